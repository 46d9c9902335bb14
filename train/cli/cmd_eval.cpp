// emrrg eval --refs R.txt --hyps H.txt [--json] [--meteor-data DIR] [--chexbert DIR]
//            [--ce-uncertain negative|positive] [--device auto|cpu|cuda]
// Scores generated reports against references (one report per line, same order) with the
// field's metrics: BLEU_1..4, ROUGE_L, METEOR, CIDEr (pycocoevalcap's numbers) and clinical
// efficacy over the 14 observations and the 5, from CheXbert's labels when its files are given,
// else from the rule-based CheXpert-style labeller (docs/METRICS.md); the output says which.
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "train/cli/command_registry.h"
#include "train/cli/device_option.h"
#include "train/metrics/chexbert_labeller.h"
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
          {"CE_f1_macro", m.ce.macro.f1},
          {"CE_precision_micro_5", m.ce.micro_five.precision},
          {"CE_recall_micro_5", m.ce.micro_five.recall},
          {"CE_f1_micro_5", m.ce.micro_five.f1},
          {"CE_precision_macro_5", m.ce.macro_five.precision},
          {"CE_recall_macro_5", m.ce.macro_five.recall},
          {"CE_f1_macro_5", m.ce.macro_five.f1}};
}

struct EvalOptions {
  std::string refs;
  std::string hyps;
  bool json = false;
  std::string meteor_data;
  std::string chexbert_dir;
  std::string chexbert_checkpoint;
  std::string chexbert_vocab;
  std::string ce_uncertain = "negative";
  std::string device;
};

// The CheXbert files the options (or $EMRRG_CHEXBERT) name, or nullopt when none are named or
// some are missing (said on stderr: eval then uses the rule-based labeller).
std::optional<emrrg::metrics::ChexbertFiles> chexbert_files(const EvalOptions& o) {
  std::string dir = o.chexbert_dir;
  const bool files_named = !o.chexbert_checkpoint.empty() || !o.chexbert_vocab.empty();
  if (dir.empty() && !files_named)
    if (const char* env = std::getenv("EMRRG_CHEXBERT")) dir = env;
  if (dir.empty() && !files_named) {
    std::cerr << "emrrg eval: clinical efficacy from the rule-based labeller (not CheXbert; give --chexbert DIR with "
                 "chexbert.pth and vocab.txt for CheXbert's labels)\n";
    return std::nullopt;
  }
  emrrg::metrics::ChexbertFiles files;
  if (!dir.empty()) files = emrrg::metrics::chexbert_files_in(dir);
  if (!o.chexbert_checkpoint.empty()) files.checkpoint = o.chexbert_checkpoint;
  if (!o.chexbert_vocab.empty()) files.vocab = o.chexbert_vocab;
  std::string missing;
  for (const auto& [path, flag] : {std::pair{files.checkpoint, "--chexbert-checkpoint"}, {files.vocab, "--chexbert-vocab"}}) {
    const std::string what = path.empty() ? std::string(flag) + " not given" : path;
    if (path.empty() || !std::filesystem::is_regular_file(path)) missing += (missing.empty() ? "" : ", ") + what;
  }
  if (!missing.empty()) {
    std::cerr << "emrrg eval: CheXbert files not found (" << missing
              << "); clinical efficacy falls back to the rule-based labeller, whose figures are not comparable "
                 "with CheXbert's\n";
    return std::nullopt;
  }
  return files;
}

int run_eval(const EvalOptions& o) {
  namespace m = emrrg::metrics;
  const auto refs = m::read_report_file(o.refs);
  const auto hyps = m::read_report_file(o.hyps);
  if (refs.size() != hyps.size()) {
    throw std::runtime_error(o.refs + " has " + std::to_string(refs.size()) + " reports but " + o.hyps + " has " +
                             std::to_string(hyps.size()) + " (one report per line, same order)");
  }
  const std::string dir = o.meteor_data.empty() ? m::default_meteor_data_dir() : o.meteor_data;
  const auto meteor_data = m::load_meteor_data(dir);
  const m::UncertainAs uncertain = o.ce_uncertain == "positive" ? m::UncertainAs::Positive : m::UncertainAs::Negative;
  std::vector<m::ChexpertLabels> ref_labels, hyp_labels;
  std::string labeller = "rule-based";
  if (const auto files = chexbert_files(o)) {
    const m::ChexbertLabeller chexbert(*files, emrrg::cli::resolve_device(o.device));
    ref_labels = chexbert.label(refs);
    hyp_labels = chexbert.label(hyps);
    labeller = "CheXbert";
  } else {
    for (const auto& r : refs) ref_labels.push_back(m::label_report(r));
    for (const auto& h : hyps) hyp_labels.push_back(m::label_report(h));
  }
  const auto result = m::compute_report_metrics(refs, hyps, ref_labels, hyp_labels, uncertain, meteor_data);
  const auto values = headline(result);
  if (o.json) {
    std::cout << "{";
    for (std::size_t i = 0; i < values.size(); ++i)
      std::cout << (i ? ", " : "") << '"' << values[i].first << "\": " << number(values[i].second);
    std::cout << ", \"CE_labeller\": \"" << labeller << "\", \"CE_uncertain\": \"" << o.ce_uncertain << "\"}\n";
    return 0;
  }
  for (const auto& [name, v] : values) std::cout << name << ": " << number(v) << "\n";
  std::cout << "CE_labeller: " << labeller << "\nCE_uncertain: " << o.ce_uncertain << "\n";
  std::cout << "\nCE per label (" << (labeller == "CheXbert" ? "CheXbert" : "rule-based CheXpert-style labeller")
            << "; uncertain counts as " << o.ce_uncertain << ")\n";
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
       app.add_option("--chexbert", opts->chexbert_dir,
                      "Folder with CheXbert's chexbert.pth and bert-base-uncased's vocab.txt (and a config.json for a "
                      "model not shaped as BERT-base); default $EMRRG_CHEXBERT; without them CE uses the rule-based "
                      "labeller");
       app.add_option("--chexbert-checkpoint", opts->chexbert_checkpoint, "CheXbert's chexbert.pth, if not in --chexbert");
       app.add_option("--chexbert-vocab", opts->chexbert_vocab, "BERT's vocab.txt, if not in --chexbert");
       app.add_option("--ce-uncertain", opts->ce_uncertain,
                      "How an uncertain label counts in CE: negative (R2Gen) or positive (f1chexbert's rrg mode)")
           ->capture_default_str()
           ->check(CLI::IsMember({"negative", "positive"}));
       emrrg::cli::add_device_option(app, opts->device);
       return [opts] { return run_eval(*opts); };
     }});

}  // namespace
