#include "train/metrics/ngram.h"

#include <algorithm>
#include <stdexcept>

namespace emrrg::metrics {

std::uint32_t TokenIds::id(const std::string& token) {
  auto [it, inserted] = ids_.try_emplace(token, static_cast<std::uint32_t>(ids_.size()));
  return it->second;
}

std::vector<std::uint32_t> TokenIds::ids(const std::vector<std::string>& tokens) {
  std::vector<std::uint32_t> out;
  out.reserve(tokens.size());
  for (const auto& t : tokens) out.push_back(id(t));
  return out;
}

std::size_t NGramHash::operator()(const NGram& g) const noexcept {
  std::uint64_t h = 0x9E3779B97F4A7C15ull * (g.order + 1);
  for (int k = 0; k < g.order; ++k) {
    h ^= g.ids[k] + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  }
  return static_cast<std::size_t>(h);
}

NGramCounts count_ngrams(std::span<const std::uint32_t> ids, int max_order) {
  std::vector<NGram> all;
  const int len = static_cast<int>(ids.size());
  for (int k = 1; k <= max_order; ++k) {
    for (int i = 0; i + k <= len; ++i) {
      NGram g;
      g.order = static_cast<std::uint8_t>(k);
      for (int j = 0; j < k; ++j) g.ids[j] = ids[i + j];
      all.push_back(g);
    }
  }
  std::sort(all.begin(), all.end());
  NGramCounts out;
  for (const auto& g : all) {
    if (!out.empty() && out.back().first == g) {
      ++out.back().second;
    } else {
      out.emplace_back(g, 1);
    }
  }
  return out;
}

void check_corpus(std::size_t hypotheses, std::span<const std::vector<std::string>> references,
                  std::string_view metric) {
  if (hypotheses != references.size()) {
    throw std::invalid_argument(std::string(metric) + ": " + std::to_string(hypotheses) +
                                " hypotheses but " + std::to_string(references.size()) +
                                " reference lists");
  }
  for (std::size_t i = 0; i < references.size(); ++i) {
    if (references[i].empty()) {
      throw std::invalid_argument(std::string(metric) + ": image " + std::to_string(i) +
                                  " has no reference");
    }
  }
}

}  // namespace emrrg::metrics
