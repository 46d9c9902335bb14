#include "train/metrics/report_metrics.h"

#include <stdexcept>
#include <vector>

#include "train/metrics/bleu.h"
#include "train/metrics/cider.h"
#include "train/metrics/meteor.h"
#include "train/metrics/rouge.h"

namespace emrrg::metrics {

namespace {

ReportMetrics text_metrics(std::span<const std::string> references, std::span<const std::string> hypotheses,
                           std::shared_ptr<const MeteorData> meteor_data) {
  if (references.size() != hypotheses.size()) {
    throw std::invalid_argument(std::to_string(references.size()) + " references but " +
                                std::to_string(hypotheses.size()) + " hypotheses");
  }
  if (references.empty()) throw std::invalid_argument("no reports to score");
  std::vector<std::vector<std::string>> refs;
  refs.reserve(references.size());
  for (const auto& r : references) refs.push_back({r});
  ReportMetrics m;
  m.bleu = compute_bleu(hypotheses, refs).corpus;
  m.rouge_l = compute_rouge_l(hypotheses, refs).corpus;
  m.cider = compute_cider(hypotheses, refs).corpus;
  m.meteor = compute_meteor(hypotheses, refs, std::move(meteor_data)).corpus;
  return m;
}

}  // namespace

ReportMetrics compute_report_metrics(std::span<const std::string> references,
                                     std::span<const std::string> hypotheses,
                                     std::shared_ptr<const MeteorData> meteor_data) {
  ReportMetrics m = text_metrics(references, hypotheses, std::move(meteor_data));
  m.ce = clinical_efficacy(references, hypotheses);
  return m;
}

ReportMetrics compute_report_metrics(std::span<const std::string> references,
                                     std::span<const std::string> hypotheses,
                                     std::span<const ChexpertLabels> reference_labels,
                                     std::span<const ChexpertLabels> hypothesis_labels, UncertainAs uncertain,
                                     std::shared_ptr<const MeteorData> meteor_data) {
  if (reference_labels.size() != references.size() || hypothesis_labels.size() != hypotheses.size())
    throw std::invalid_argument(std::to_string(reference_labels.size()) + " reference and " +
                                std::to_string(hypothesis_labels.size()) + " hypothesis label sets for " +
                                std::to_string(references.size()) + " and " + std::to_string(hypotheses.size()) +
                                " reports");
  ReportMetrics m = text_metrics(references, hypotheses, std::move(meteor_data));
  m.ce = clinical_efficacy(reference_labels, hypothesis_labels, uncertain);
  return m;
}

}  // namespace emrrg::metrics
