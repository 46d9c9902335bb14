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

// bleu_1..bleu_4, rouge_l, meteor, cider, ce_precision/recall/f1_micro and _macro over the 14
// observations, ce_f1_micro_five and ce_f1_macro_five over CheXpert's competition five.
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

// validate_by_generation plus test_loss: the mean NLL over every report token of the split,
// sum(loss(batch) * tokens(batch)) / sum(tokens(batch)) with tokens the batch's report_mask
// total, exact for a loss that is the mean over the batch's report tokens.
Metrics evaluate_split(Trainable& model, BatchSource& split, const GenerateConfig& config,
                       std::vector<GeneratedReport>* reports = nullptr);

// Copies trained weights into the model's trained parameters by name: `path` is a checkpoint
// folder (its model.safetensors) or a safetensors file. Every trained parameter must be there
// with its shape; throws naming the file and each missing or mis-shaped name.
void load_trained_weights(Trainable& model, const std::string& path);

}  // namespace emrrg::train
