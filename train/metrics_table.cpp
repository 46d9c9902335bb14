#include "train/metrics_table.h"

#include <algorithm>
#include <cstdio>
#include <ostream>
#include <set>

namespace emrrg::train {

void print_metrics_table(std::ostream& out,
                         const std::vector<std::pair<std::string, std::map<std::string, double>>>& columns) {
  std::set<std::string> rows;
  size_t name_width = 6;
  for (const auto& [heading, metrics] : columns)
    for (const auto& [name, value] : metrics) {
      rows.insert(name);
      name_width = std::max(name_width, name.size());
    }
  std::vector<size_t> widths;
  for (const auto& [heading, metrics] : columns) widths.push_back(std::max<size_t>(heading.size(), 8));
  const auto pad = [](const std::string& s, size_t w) { return std::string(w > s.size() ? w - s.size() : 0, ' ') + s; };
  std::string line = std::string("metric") + std::string(name_width - 6, ' ');
  for (size_t c = 0; c < columns.size(); ++c) line += "  " + pad(columns[c].first, widths[c]);
  out << line << "\n" << std::string(line.size(), '-') << "\n";
  for (const std::string& row : rows) {
    std::string text = row + std::string(name_width - row.size(), ' ');
    for (size_t c = 0; c < columns.size(); ++c) {
      auto it = columns[c].second.find(row);
      char value[32] = "-";
      if (it != columns[c].second.end()) std::snprintf(value, sizeof(value), "%.4f", it->second);
      text += "  " + pad(value, widths[c]);
    }
    out << text << "\n";
  }
}

}  // namespace emrrg::train
