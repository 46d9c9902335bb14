#include "train/report_validation.h"

#include <filesystem>
#include <stdexcept>

#include "autograd/tape.h"
#include "ops/ops.h"
#include "runtime/safetensors.h"

namespace emrrg::train {

Metrics report_metrics_map(const metrics::ReportMetrics& m) {
  Metrics out;
  for (size_t n = 0; n < m.bleu.size(); ++n) out["bleu_" + std::to_string(n + 1)] = m.bleu[n];
  out["rouge_l"] = m.rouge_l;
  out["meteor"] = m.meteor;
  out["cider"] = m.cider;
  out["ce_precision_micro"] = m.ce.micro.precision;
  out["ce_recall_micro"] = m.ce.micro.recall;
  out["ce_f1_micro"] = m.ce.micro.f1;
  out["ce_precision_macro"] = m.ce.macro.precision;
  out["ce_recall_macro"] = m.ce.macro.recall;
  out["ce_f1_macro"] = m.ce.macro.f1;
  // The 5 observations of CheXpert's competition, as f1chexbert also reports them.
  out["ce_f1_micro_five"] = m.ce.micro_five.f1;
  out["ce_f1_macro_five"] = m.ce.macro_five.f1;
  return out;
}

Metrics validate_by_generation(Trainable& model, BatchSource& split, const GenerateConfig& config,
                               std::vector<GeneratedReport>* reports) {
  autograd::NoGradGuard no_grad;
  model.set_training(false);
  std::vector<std::string> references, hypotheses;
  split.start_epoch(0, 0);
  data::Batch batch;
  while (split.next(batch)) {
    const std::vector<std::string> generated = model.generate(batch, config);
    if (generated.size() != batch.size())
      throw std::runtime_error("validation: the model generated " + std::to_string(generated.size()) +
                               " reports for a batch of " + std::to_string(batch.size()) + " studies");
    for (size_t i = 0; i < generated.size(); ++i) {
      references.push_back(batch.reports[i]);
      hypotheses.push_back(generated[i]);
      if (reports) reports->push_back({batch.ids[i], batch.reports[i], generated[i]});
    }
  }
  if (references.empty()) throw std::runtime_error("validation: the split has no studies");
  return report_metrics_map(metrics::compute_report_metrics(references, hypotheses));
}

Metrics evaluate_split(Trainable& model, BatchSource& split, const GenerateConfig& config,
                       std::vector<GeneratedReport>* reports) {
  double nll = 0, tokens = 0;
  {
    autograd::NoGradGuard no_grad;
    model.set_training(false);
    split.start_epoch(0, 0);
    data::Batch batch;
    while (split.next(batch)) {
      const double n = sum(batch.report_mask).item();
      nll += model.loss(batch).item() * n;
      tokens += n;
    }
  }
  Metrics m = validate_by_generation(model, split, config, reports);
  m["test_loss"] = nll / tokens;
  return m;
}

void load_trained_weights(Trainable& model, const std::string& path) {
  const std::string file =
      std::filesystem::is_directory(path) ? (std::filesystem::path(path) / "model.safetensors").string() : path;
  const SafetensorsFile weights = SafetensorsFile::open(file);
  std::string problems;
  for (const TrainedParameter& p : model.trained_parameters()) {
    if (!weights.contains(p.name))
      problems += "; missing '" + p.name + "'";
    else if (weights.entry(p.name).shape != p.tensor.shape())
      problems += "; '" + p.name + "' has another shape than the model's " + p.tensor.str();
  }
  if (!problems.empty()) throw std::runtime_error("weights '" + file + "' do not fit the model" + problems);
  autograd::NoGradGuard no_grad;
  for (const TrainedParameter& p : model.trained_parameters()) copy_into(p.tensor, weights.get(p.name));
}

}  // namespace emrrg::train
