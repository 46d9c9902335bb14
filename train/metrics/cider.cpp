#include "train/metrics/cider.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <unordered_map>

#include "train/metrics/ngram.h"
#include "train/metrics/text.h"

namespace emrrg::metrics {

namespace {
constexpr double kSigma = 6.0;
constexpr double kE = 2.718281828459045;  // numpy.e; the reference raises it with **

struct TfIdf {
  NGramCounts grams;               // sorted n-grams with their term frequencies
  std::vector<double> weight;      // tf * (ln N - ln max(1, df)), parallel to grams
  std::array<double, 4> norm{};    // per-order Euclidean norm
  std::int64_t length = 0;         // total count of BIGRAMS (the reference's "length")
};

using DocFreq = std::unordered_map<NGram, int, NGramHash>;

TfIdf to_tfidf(NGramCounts grams, const DocFreq& df, double ref_len) {
  TfIdf v;
  v.weight.reserve(grams.size());
  std::array<double, 4> sq{};
  for (const auto& [gram, tf] : grams) {
    const auto it = df.find(gram);
    const double d = std::log(std::max(1.0, it == df.end() ? 0.0 : static_cast<double>(it->second)));
    const int n = gram.order - 1;
    const double w = static_cast<double>(tf) * (ref_len - d);
    v.weight.push_back(w);
    sq[n] += std::pow(w, 2);
    if (n == 1) v.length += tf;
  }
  for (int n = 0; n < 4; ++n) v.norm[n] = std::sqrt(sq[n]);
  v.grams = std::move(grams);
  return v;
}

std::array<double, 4> similarity(const TfIdf& h, const TfIdf& r) {
  const double delta = static_cast<double>(h.length - r.length);
  std::array<double, 4> val{};
  std::size_t b = 0;
  for (std::size_t a = 0; a < h.grams.size(); ++a) {
    const NGram& g = h.grams[a].first;
    while (b < r.grams.size() && r.grams[b].first < g) ++b;
    const double wr = (b < r.grams.size() && r.grams[b].first == g) ? r.weight[b] : 0.0;
    val[g.order - 1] += std::min(h.weight[a], wr) * wr;
  }
  const double penalty = std::pow(kE, -(std::pow(delta, 2)) / (2 * std::pow(kSigma, 2)));
  for (int n = 0; n < 4; ++n) {
    if (h.norm[n] != 0 && r.norm[n] != 0) val[n] /= (h.norm[n] * r.norm[n]);
    val[n] *= penalty;
  }
  return val;
}
}  // namespace

CiderScore compute_cider(std::span<const std::string> hypotheses,
                         std::span<const std::vector<std::string>> references) {
  check_corpus(hypotheses.size(), references, "CIDEr");
  TokenIds vocab;
  std::vector<NGramCounts> hyp_counts;
  std::vector<std::vector<NGramCounts>> ref_counts(hypotheses.size());
  DocFreq df;
  for (std::size_t img = 0; img < hypotheses.size(); ++img) {
    hyp_counts.push_back(count_ngrams(vocab.ids(split_whitespace(hypotheses[img]))));
    std::vector<NGram> seen;
    for (const auto& ref : references[img]) {
      ref_counts[img].push_back(count_ngrams(vocab.ids(split_whitespace(ref))));
      for (const auto& [gram, tf] : ref_counts[img].back()) seen.push_back(gram);
    }
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    for (const auto& g : seen) ++df[g];
  }
  const double ref_len = std::log(static_cast<double>(hypotheses.size()));
  CiderScore result;
  result.per_image.reserve(hypotheses.size());
  for (std::size_t img = 0; img < hypotheses.size(); ++img) {
    const TfIdf h = to_tfidf(std::move(hyp_counts[img]), df, ref_len);
    std::array<double, 4> score{};
    for (auto& rc : ref_counts[img]) {
      const TfIdf r = to_tfidf(std::move(rc), df, ref_len);
      const auto s = similarity(h, r);
      for (int n = 0; n < 4; ++n) score[n] += s[n];
    }
    double avg = numpy_mean(score);
    avg /= static_cast<double>(references[img].size());
    avg *= 10.0;
    result.per_image.push_back(avg);
  }
  result.corpus = numpy_mean(result.per_image);
  return result;
}

}  // namespace emrrg::metrics
