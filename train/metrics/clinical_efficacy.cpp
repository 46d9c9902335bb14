#include "train/metrics/clinical_efficacy.h"

#include <stdexcept>

namespace emrrg::metrics {

namespace {
bool positive(const std::optional<int>& v, UncertainAs uncertain) {
  return v && (*v == kPositive || (*v == kUncertain && uncertain == UncertainAs::Positive));
}
double ratio(double num, double den) { return den == 0 ? 0.0 : num / den; }
PrecisionRecallF1 from_counts(double tp, double fp, double fn) {
  PrecisionRecallF1 r;
  r.precision = ratio(tp, tp + fp);
  r.recall = ratio(tp, tp + fn);
  r.f1 = ratio(2 * tp, 2 * tp + fp + fn);  // scikit-learn's F1 (0 when tp = 0)
  return r;
}

struct Counts {
  std::array<double, kNumChexpertLabels> tp{}, fp{}, fn{};
};

// Micro (pooled counts) and macro (mean of per-label values) over `labels`.
void average(const Counts& c, const ClinicalEfficacy& ce, std::span<const ChexpertLabel> labels,
             PrecisionRecallF1& micro, PrecisionRecallF1& macro) {
  double TP = 0, FP = 0, FN = 0;
  macro = {};
  for (const ChexpertLabel k : labels) {
    macro.precision += ce.per_label[k].precision;
    macro.recall += ce.per_label[k].recall;
    macro.f1 += ce.per_label[k].f1;
    TP += c.tp[k];
    FP += c.fp[k];
    FN += c.fn[k];
  }
  const auto n = static_cast<double>(labels.size());
  macro.precision /= n;
  macro.recall /= n;
  macro.f1 /= n;
  micro = from_counts(TP, FP, FN);
}
}  // namespace

ClinicalEfficacy clinical_efficacy(std::span<const ChexpertLabels> references,
                                   std::span<const ChexpertLabels> hypotheses, UncertainAs uncertain) {
  if (references.size() != hypotheses.size()) {
    throw std::invalid_argument("clinical efficacy: " + std::to_string(references.size()) + " references but " +
                                std::to_string(hypotheses.size()) + " hypotheses");
  }
  Counts c;
  for (std::size_t r = 0; r < references.size(); ++r) {
    for (int k = 0; k < kNumChexpertLabels; ++k) {
      const bool g = positive(references[r][k], uncertain), h = positive(hypotheses[r][k], uncertain);
      c.tp[k] += g && h;
      c.fp[k] += !g && h;
      c.fn[k] += g && !h;
    }
  }
  ClinicalEfficacy ce;
  std::array<ChexpertLabel, kNumChexpertLabels> all{};
  for (int k = 0; k < kNumChexpertLabels; ++k) {
    all[k] = static_cast<ChexpertLabel>(k);
    ce.per_label[k] = from_counts(c.tp[k], c.fp[k], c.fn[k]);
    ce.support[k] = static_cast<long>(c.tp[k] + c.fn[k]);
  }
  average(c, ce, all, ce.micro, ce.macro);
  average(c, ce, kChexpertFive, ce.micro_five, ce.macro_five);
  return ce;
}

ClinicalEfficacy clinical_efficacy(std::span<const std::string> references,
                                   std::span<const std::string> hypotheses, UncertainAs uncertain) {
  std::vector<ChexpertLabels> ref_labels, hyp_labels;
  for (const auto& r : references) ref_labels.push_back(label_report(r));
  for (const auto& h : hypotheses) hyp_labels.push_back(label_report(h));
  return clinical_efficacy(std::span<const ChexpertLabels>(ref_labels), std::span<const ChexpertLabels>(hyp_labels),
                           uncertain);
}

}  // namespace emrrg::metrics
