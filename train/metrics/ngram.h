// N-gram counting shared by BLEU and CIDEr: tokens are interned to integer ids, and each
// sentence's n-grams (orders 1..4) are kept as a vector sorted by n-gram.
#pragma once
#include <array>
#include <compare>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace emrrg::metrics {

inline constexpr int kMaxNGram = 4;

class TokenIds {
 public:
  std::uint32_t id(const std::string& token);
  std::vector<std::uint32_t> ids(const std::vector<std::string>& tokens);

 private:
  std::unordered_map<std::string, std::uint32_t> ids_;
};

struct NGram {
  std::uint8_t order = 0;  // 1..4
  std::array<std::uint32_t, kMaxNGram> ids{};
  auto operator<=>(const NGram&) const = default;
};

struct NGramHash {
  std::size_t operator()(const NGram& g) const noexcept;
};

// (n-gram, count) sorted by n-gram; every order 1..max_order.
using NGramCounts = std::vector<std::pair<NGram, int>>;
NGramCounts count_ngrams(std::span<const std::uint32_t> ids, int max_order = kMaxNGram);

// Throws std::invalid_argument unless there is one reference list per hypothesis and no
// reference list is empty (the reference scorers assert the same).
void check_corpus(std::size_t hypotheses, std::span<const std::vector<std::string>> references,
                  std::string_view metric);

}  // namespace emrrg::metrics
