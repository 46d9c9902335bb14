// All report-generation metrics of the field in one call: BLEU-1..4, ROUGE-L, METEOR, CIDEr-D
// (pycocoevalcap as vendored by R2Gen / R2GenGPT / EMRRG, one reference per report) and the
// clinical-efficacy figures from the rule-based labeller or from labels computed elsewhere (CheXbert).
#pragma once
#include <array>
#include <memory>
#include <span>
#include <string>

#include "train/metrics/clinical_efficacy.h"
#include "train/metrics/meteor_data.h"

namespace emrrg::metrics {

struct ReportMetrics {
  std::array<double, 4> bleu{};
  double rouge_l = 0.0;
  double meteor = 0.0;
  double cider = 0.0;
  ClinicalEfficacy ce;
};

// references[i] is the ground truth of hypotheses[i]; throws std::invalid_argument when the
// counts differ or are zero.
ReportMetrics compute_report_metrics(std::span<const std::string> references,
                                     std::span<const std::string> hypotheses,
                                     std::shared_ptr<const MeteorData> meteor_data = default_meteor_data());
// The same with CE from given labels (reference_labels[i] of references[i], ...) and convention.
ReportMetrics compute_report_metrics(std::span<const std::string> references,
                                     std::span<const std::string> hypotheses,
                                     std::span<const ChexpertLabels> reference_labels,
                                     std::span<const ChexpertLabels> hypothesis_labels, UncertainAs uncertain,
                                     std::shared_ptr<const MeteorData> meteor_data = default_meteor_data());

}  // namespace emrrg::metrics
