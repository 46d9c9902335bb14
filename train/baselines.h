// The two reference points every report generator is compared with (issue 11: the demo prints
// them beside the model): the most frequent training report written for every study, and a
// random training report per study. Neither looks at the images.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "train/data/dataset.h"
#include "train/trainer.h"

namespace emrrg::train {

// The cleaned training report that occurs most often (ties: the one seen first).
std::string most_frequent_report(const data::ReportDataset& train);
// One cleaned training report per study of `split`, drawn uniformly with replacement from `seed`.
std::vector<std::string> random_reports(const data::ReportDataset& train, size_t count, uint64_t seed);
// ("most frequent", metrics) and ("random", metrics) on `split`'s references.
std::vector<std::pair<std::string, Metrics>> baseline_metrics(const data::ReportDataset& train,
                                                              const data::ReportDataset& split, uint64_t seed);

}  // namespace emrrg::train
