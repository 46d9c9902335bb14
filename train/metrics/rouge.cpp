#include "train/metrics/rouge.h"

#include <algorithm>
#include <cstdint>

#include "train/metrics/ngram.h"
#include "train/metrics/text.h"

namespace emrrg::metrics {

namespace {
std::size_t lcs_ids(const std::vector<std::uint32_t>& a, const std::vector<std::uint32_t>& b,
                    std::vector<std::uint32_t>& row) {
  const std::vector<std::uint32_t>& s = a.size() >= b.size() ? a : b;
  const std::vector<std::uint32_t>& t = a.size() >= b.size() ? b : a;
  row.assign(t.size() + 1, 0);
  for (std::size_t i = 1; i <= s.size(); ++i) {
    std::uint32_t diag = 0;  // row[j-1] of the previous line
    for (std::size_t j = 1; j <= t.size(); ++j) {
      const std::uint32_t up = row[j];
      row[j] = s[i - 1] == t[j - 1] ? diag + 1 : std::max(up, row[j - 1]);
      diag = up;
    }
  }
  return row[t.size()];
}
}  // namespace

std::size_t lcs_length(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  TokenIds vocab;
  std::vector<std::uint32_t> row;
  return lcs_ids(vocab.ids(a), vocab.ids(b), row);
}

RougeScore compute_rouge_l(std::span<const std::string> hypotheses,
                           std::span<const std::vector<std::string>> references) {
  check_corpus(hypotheses.size(), references, "ROUGE_L");
  const double beta = 1.2;
  const double beta2 = beta * beta;
  TokenIds vocab;
  std::vector<std::uint32_t> row;
  RougeScore result;
  result.per_image.reserve(hypotheses.size());
  for (std::size_t img = 0; img < hypotheses.size(); ++img) {
    const auto cand = vocab.ids(split_on_space(hypotheses[img]));
    double prec_max = 0.0, rec_max = 0.0;
    bool first = true;
    for (const auto& ref : references[img]) {
      const auto toks = vocab.ids(split_on_space(ref));
      const double lcs = static_cast<double>(lcs_ids(toks, cand, row));
      const double prec = lcs / static_cast<double>(cand.size());
      const double rec = lcs / static_cast<double>(toks.size());
      prec_max = first ? prec : std::max(prec_max, prec);
      rec_max = first ? rec : std::max(rec_max, rec);
      first = false;
    }
    double score = 0.0;
    if (prec_max != 0 && rec_max != 0) {
      score = ((1 + beta2) * prec_max * rec_max) / (rec_max + beta2 * prec_max);
    }
    result.per_image.push_back(score);
  }
  result.corpus = numpy_mean(result.per_image);
  return result;
}

}  // namespace emrrg::metrics
