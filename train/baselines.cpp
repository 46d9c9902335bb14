#include "train/baselines.h"

#include <map>
#include <stdexcept>

#include "train/data/rng.h"
#include "train/metrics/report_metrics.h"
#include "train/report_validation.h"

namespace emrrg::train {

std::string most_frequent_report(const data::ReportDataset& train) {
  if (train.size() == 0) throw std::invalid_argument("most_frequent_report: the training split is empty");
  std::map<std::string, size_t> counts;
  for (size_t i = 0; i < train.size(); ++i) ++counts[train.clean_text(i)];
  size_t best = 0;
  for (size_t i = 1; i < train.size(); ++i)
    if (counts[train.clean_text(i)] > counts[train.clean_text(best)]) best = i;
  return train.clean_text(best);
}

std::vector<std::string> random_reports(const data::ReportDataset& train, size_t count, uint64_t seed) {
  if (train.size() == 0) throw std::invalid_argument("random_reports: the training split is empty");
  data::Rng rng(data::mix_seed({seed, 0x52414e44ull}));
  std::vector<std::string> out;
  for (size_t i = 0; i < count; ++i) out.push_back(train.clean_text(rng.below(train.size())));
  return out;
}

std::vector<std::pair<std::string, Metrics>> baseline_metrics(const data::ReportDataset& train,
                                                              const data::ReportDataset& split, uint64_t seed) {
  std::vector<std::string> references;
  for (size_t i = 0; i < split.size(); ++i) references.push_back(split.clean_text(i));
  const std::vector<std::string> frequent(references.size(), most_frequent_report(train));
  return {{"most frequent", report_metrics_map(metrics::compute_report_metrics(references, frequent))},
          {"random", report_metrics_map(
                         metrics::compute_report_metrics(references, random_reports(train, references.size(), seed)))}};
}

}  // namespace emrrg::train
