// emrrg eval --refs R.txt --hyps H.txt [--json] [--meteor-data DIR]
// Scores generated reports against references (one report per line, same order) with the
// field's metrics: BLEU_1..4, ROUGE_L, METEOR, CIDEr (pycocoevalcap's numbers) and clinical
// efficacy from the rule-based CheXpert-style labeller (not CheXbert; docs/METRICS.md).
#include <charconv>
#include <iostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "train/cli/command_registry.h"
#include "train/metrics/meteor_data.h"
#include "train/metrics/report_io.h"
#include "train/metrics/report_metrics.h"

namespace {

// Shortest representation that reads back to the same double (like Python's repr).
std::string number(double v) {
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

std::vector<std::pair<std::string, double>> headline(const emrrg::metrics::ReportMetrics& m) {
  return {{"BLEU_1", m.bleu[0]},
          {"BLEU_2", m.bleu[1]},
          {"BLEU_3", m.bleu[2]},
          {"BLEU_4", m.bleu[3]},
          {"ROUGE_L", m.rouge_l},
          {"METEOR", m.meteor},
          {"CIDEr", m.cider},
          {"CE_precision_micro", m.ce.micro.precision},
          {"CE_recall_micro", m.ce.micro.recall},
          {"CE_f1_micro", m.ce.micro.f1},
          {"CE_precision_macro", m.ce.macro.precision},
          {"CE_recall_macro", m.ce.macro.recall},
          {"CE_f1_macro", m.ce.macro.f1}};
}

struct EvalOptions {
  std::string refs;
  std::string hyps;
  bool json = false;
  std::string meteor_data;
};

int run_eval(const EvalOptions& o) {
  namespace m = emrrg::metrics;
  const auto refs = m::read_report_file(o.refs);
  const auto hyps = m::read_report_file(o.hyps);
  if (refs.size() != hyps.size()) {
    throw std::runtime_error(o.refs + " has " + std::to_string(refs.size()) + " reports but " + o.hyps + " has " +
                             std::to_string(hyps.size()) + " (one report per line, same order)");
  }
  const std::string dir = o.meteor_data.empty() ? m::default_meteor_data_dir() : o.meteor_data;
  const auto result = m::compute_report_metrics(refs, hyps, m::load_meteor_data(dir));
  const auto values = headline(result);
  if (o.json) {
    std::cout << "{";
    for (std::size_t i = 0; i < values.size(); ++i)
      std::cout << (i ? ", " : "") << '"' << values[i].first << "\": " << number(values[i].second);
    std::cout << "}\n";
    return 0;
  }
  for (const auto& [name, v] : values) std::cout << name << ": " << number(v) << "\n";
  std::cout << "\nCE per label (rule-based CheXpert-style labeller; uncertain counts as negative)\n";
  std::cout << "label\tprecision\trecall\tf1\tsupport\n";
  for (int k = 0; k < m::kNumChexpertLabels; ++k) {
    const auto& p = result.ce.per_label[k];
    std::cout << m::kChexpertLabelNames[k] << "\t" << number(p.precision) << "\t" << number(p.recall) << "\t"
              << number(p.f1) << "\t" << result.ce.support[k] << "\n";
  }
  return 0;
}

const bool registered = emrrg::cli::register_command(
    {"eval", "Score generated reports against references: BLEU, ROUGE-L, METEOR, CIDEr, clinical efficacy",
     [](CLI::App& app) -> std::function<int()> {
       auto opts = std::make_shared<EvalOptions>();
       app.add_option("--refs", opts->refs, "Reference reports, one per line")->required();
       app.add_option("--hyps", opts->hyps, "Generated reports, one per line, same order")->required();
       app.add_flag("--json", opts->json, "Print one JSON object");
       app.add_option("--meteor-data", opts->meteor_data,
                      "Folder with METEOR's English data (default: $EMRRG_METEOR_DATA, else the shipped copy)");
       return [opts] { return run_eval(*opts); };
     }});

}  // namespace
