// Validation by generation: a report for every study of a split, scored against the references
// with every metric (BLEU-1..4, ROUGE-L, METEOR, CIDEr-D, clinical efficacy). The names are the
// ones the selection formula and the logs use.
#pragma once
#include <string>
#include <vector>

#include "train/metrics/report_metrics.h"
#include "train/trainable.h"
#include "train/trainer.h"

namespace emrrg::train {

// bleu_1..bleu_4, rouge_l, meteor, cider, ce_precision/recall/f1_micro and _macro.
Metrics report_metrics_map(const metrics::ReportMetrics& m);

struct GeneratedReport {
  std::string id;
  std::string reference;
  std::string generated;
};

// Generates for every batch of epoch 0 of `split` (give it an unshuffled loader), in evaluation
// mode without gradients, and scores the reports. `reports`, when given, receives them in order.
Metrics validate_by_generation(Trainable& model, BatchSource& split, const GenerateConfig& config,
                               std::vector<GeneratedReport>* reports = nullptr);

}  // namespace emrrg::train
