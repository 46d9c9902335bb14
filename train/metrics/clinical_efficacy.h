// Clinical efficacy (CE) as R2Gen-style papers compute it: label references and hypotheses
// with a CheXpert-style labeller, binarise (1 stays 1; 0, -1 and blank become 0, i.e.
// uncertain counts as negative), then precision / recall / F1 with scikit-learn's semantics:
// micro = pooled over the 14 labels and all reports, macro = mean of the per-label values,
// a 0/0 ratio counts as 0 (zero_division=0).
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

struct ClinicalEfficacy {
  PrecisionRecallF1 micro;
  PrecisionRecallF1 macro;
  std::array<PrecisionRecallF1, kNumChexpertLabels> per_label{};
  std::array<long, kNumChexpertLabels> support{};  // reference positives per label
};

// From already computed labels (one entry per report, same order).
ClinicalEfficacy clinical_efficacy(std::span<const ChexpertLabels> references,
                                   std::span<const ChexpertLabels> hypotheses);
// Labels both sides with label_report() first.
ClinicalEfficacy clinical_efficacy(std::span<const std::string> references,
                                   std::span<const std::string> hypotheses);

}  // namespace emrrg::metrics
