// Clinical efficacy (CE) as report-generation papers compute it: label references and hypotheses
// with a CheXpert-style labeller (the rule-based one here, or CheXbert), binarise (1 stays 1; 0 and
// blank become 0; uncertain (-1) becomes 0 or 1 as the convention says), then precision / recall /
// F1 with scikit-learn's semantics: micro = pooled over the labels and all reports, macro = mean of
// the per-label values, a 0/0 ratio counts as 0 (zero_division=0). Both over the 14 observations
// (No Finding included) and over the 5 of CheXpert's competition (kChexpertFive), as f1chexbert's
// classification reports give them.
#pragma once
#include <array>
#include <span>
#include <string>
#include <vector>

#include "train/metrics/chexpert_labeller.h"

namespace emrrg::metrics {

struct PrecisionRecallF1 {
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
};

// Atelectasis, Cardiomegaly, Consolidation, Edema, Pleural Effusion.
inline constexpr std::array<ChexpertLabel, 5> kChexpertFive = {kAtelectasis, kCardiomegaly, kConsolidation, kEdema,
                                                              kPleuralEffusion};

// How an uncertain label counts: Negative as R2Gen's CE script (the CheXpert labeller's -1 is not
// 1); Positive as f1chexbert's "rrg" mode (CheXbert's uncertain class counts as present).
enum class UncertainAs { Negative, Positive };

struct ClinicalEfficacy {
  PrecisionRecallF1 micro;  // the 14 observations
  PrecisionRecallF1 macro;
  PrecisionRecallF1 micro_five;  // kChexpertFive
  PrecisionRecallF1 macro_five;
  std::array<PrecisionRecallF1, kNumChexpertLabels> per_label{};
  std::array<long, kNumChexpertLabels> support{};  // reference positives per label
};

// From already computed labels (one entry per report, same order).
ClinicalEfficacy clinical_efficacy(std::span<const ChexpertLabels> references,
                                   std::span<const ChexpertLabels> hypotheses,
                                   UncertainAs uncertain = UncertainAs::Negative);
// Labels both sides with label_report() first.
ClinicalEfficacy clinical_efficacy(std::span<const std::string> references,
                                   std::span<const std::string> hypotheses,
                                   UncertainAs uncertain = UncertainAs::Negative);

}  // namespace emrrg::metrics
