// Validation and test metrics as an aligned text table: one row per metric, one column per
// system (the model, baselines), so results can be read and compared at a glance.
#pragma once
#include <iosfwd>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace emrrg::train {

// `columns`: (heading, metrics); rows are the union of the metric names in sorted order, a
// metric a column lacks printed as "-".
void print_metrics_table(std::ostream& out,
                         const std::vector<std::pair<std::string, std::map<std::string, double>>>& columns);

}  // namespace emrrg::train
