#include "train/metrics/bleu.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "train/metrics/ngram.h"
#include "train/metrics/text.h"

namespace emrrg::metrics {

namespace {
constexpr double kTiny = 1e-15;   // "so that if guess is 0 still return 0"
constexpr double kSmall = 1e-9;

// Per-image sufficient statistics.
struct Comps {
  std::int64_t testlen = 0;
  std::int64_t reflen = 0;
  std::array<std::int64_t, 4> guess{};
  std::array<std::int64_t, 4> correct{};
};

std::array<double, 4> bleu_from(const std::array<std::int64_t, 4>& correct,
                                const std::array<std::int64_t, 4>& guess, std::int64_t testlen,
                                std::int64_t reflen) {
  std::array<double, 4> out{};
  double bleu = 1.0;
  for (int k = 0; k < 4; ++k) {
    bleu *= (static_cast<double>(correct[k]) + kTiny) / (static_cast<double>(guess[k]) + kSmall);
    out[k] = std::pow(bleu, 1.0 / (k + 1));
  }
  const double ratio = (static_cast<double>(testlen) + kTiny) / (static_cast<double>(reflen) + kSmall);
  if (ratio < 1) {
    for (auto& v : out) v *= std::exp(1 - 1 / ratio);
  }
  return out;
}
}  // namespace

BleuScore compute_bleu(std::span<const std::string> hypotheses,
                       std::span<const std::vector<std::string>> references) {
  check_corpus(hypotheses.size(), references, "BLEU");
  TokenIds vocab;
  BleuScore result;
  result.per_image.reserve(hypotheses.size());
  Comps total;
  for (std::size_t img = 0; img < hypotheses.size(); ++img) {
    // Reference side: lengths and the maximum count of every n-gram over the references.
    std::vector<std::int64_t> reflens;
    NGramCounts maxcounts;
    for (const auto& ref : references[img]) {
      const auto ids = vocab.ids(split_whitespace(ref));
      reflens.push_back(static_cast<std::int64_t>(ids.size()));
      const NGramCounts counts = count_ngrams(ids);
      NGramCounts merged;
      merged.reserve(maxcounts.size() + counts.size());
      std::size_t a = 0, b = 0;
      while (a < maxcounts.size() || b < counts.size()) {
        if (b == counts.size() || (a < maxcounts.size() && maxcounts[a].first < counts[b].first)) {
          merged.push_back(maxcounts[a++]);
        } else if (a == maxcounts.size() || counts[b].first < maxcounts[a].first) {
          merged.push_back(counts[b++]);
        } else {
          merged.emplace_back(counts[b].first, std::max(maxcounts[a].second, counts[b].second));
          ++a;
          ++b;
        }
      }
      maxcounts = std::move(merged);
    }
    // Hypothesis side.
    const auto ids = vocab.ids(split_whitespace(hypotheses[img]));
    const NGramCounts counts = count_ngrams(ids);
    Comps c;
    c.testlen = static_cast<std::int64_t>(ids.size());
    for (int k = 0; k < 4; ++k) c.guess[k] = std::max<std::int64_t>(0, c.testlen - k);
    std::size_t b = 0;
    for (const auto& [gram, count] : counts) {
      while (b < maxcounts.size() && maxcounts[b].first < gram) ++b;
      if (b < maxcounts.size() && maxcounts[b].first == gram) {
        c.correct[gram.order - 1] += std::min(count, maxcounts[b].second);
      }
    }
    // "closest": min over (|l - testlen|, l), so ties go to the shorter reference.
    std::int64_t best = reflens.front();
    for (std::int64_t l : reflens) {
      const std::int64_t d = std::llabs(l - c.testlen), bd = std::llabs(best - c.testlen);
      if (d < bd || (d == bd && l < best)) best = l;
    }
    c.reflen = best;
    result.per_image.push_back(bleu_from(c.correct, c.guess, c.testlen, c.reflen));
    total.testlen += c.testlen;
    total.reflen += c.reflen;
    for (int k = 0; k < 4; ++k) {
      total.guess[k] += c.guess[k];
      total.correct[k] += c.correct[k];
    }
  }
  result.corpus = bleu_from(total.correct, total.guess, total.testlen, total.reflen);
  return result;
}

}  // namespace emrrg::metrics
