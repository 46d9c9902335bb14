#include "train/metrics/clinical_efficacy.h"

#include <stdexcept>

namespace emrrg::metrics {

namespace {
bool positive(const std::optional<int>& v) { return v && *v == kPositive; }
double ratio(double num, double den) { return den == 0 ? 0.0 : num / den; }
PrecisionRecallF1 from_counts(double tp, double fp, double fn) {
  PrecisionRecallF1 r;
  r.precision = ratio(tp, tp + fp);
  r.recall = ratio(tp, tp + fn);
  r.f1 = ratio(2 * tp, 2 * tp + fp + fn);  // scikit-learn's F1 (0 when tp = 0)
  return r;
}
}  // namespace

ClinicalEfficacy clinical_efficacy(std::span<const ChexpertLabels> references,
                                   std::span<const ChexpertLabels> hypotheses) {
  if (references.size() != hypotheses.size()) {
    throw std::invalid_argument("clinical efficacy: " + std::to_string(references.size()) + " references but " +
                                std::to_string(hypotheses.size()) + " hypotheses");
  }
  std::array<double, kNumChexpertLabels> tp{}, fp{}, fn{};
  for (std::size_t r = 0; r < references.size(); ++r) {
    for (int k = 0; k < kNumChexpertLabels; ++k) {
      const bool g = positive(references[r][k]), h = positive(hypotheses[r][k]);
      tp[k] += g && h;
      fp[k] += !g && h;
      fn[k] += g && !h;
    }
  }
  ClinicalEfficacy ce;
  double TP = 0, FP = 0, FN = 0;
  for (int k = 0; k < kNumChexpertLabels; ++k) {
    ce.per_label[k] = from_counts(tp[k], fp[k], fn[k]);
    ce.support[k] = static_cast<long>(tp[k] + fn[k]);
    ce.macro.precision += ce.per_label[k].precision;
    ce.macro.recall += ce.per_label[k].recall;
    ce.macro.f1 += ce.per_label[k].f1;
    TP += tp[k];
    FP += fp[k];
    FN += fn[k];
  }
  ce.macro.precision /= kNumChexpertLabels;
  ce.macro.recall /= kNumChexpertLabels;
  ce.macro.f1 /= kNumChexpertLabels;
  ce.micro = from_counts(TP, FP, FN);
  return ce;
}

ClinicalEfficacy clinical_efficacy(std::span<const std::string> references,
                                   std::span<const std::string> hypotheses) {
  std::vector<ChexpertLabels> ref_labels, hyp_labels;
  for (const auto& r : references) ref_labels.push_back(label_report(r));
  for (const auto& h : hypotheses) hyp_labels.push_back(label_report(h));
  return clinical_efficacy(std::span<const ChexpertLabels>(ref_labels), std::span<const ChexpertLabels>(hyp_labels));
}

}  // namespace emrrg::metrics
