// BLEU-1..4 as pycocoevalcap's bleu_scorer.py computes it (option "closest"): whitespace
// tokens, counts clipped by the maximum count over an image's references, the reference
// length closest to the hypothesis length (ties to the shorter), totals over the corpus,
// BLEU_n = (prod_{k<=n} (C_k + 1e-15) / (G_k + 1e-9))^(1/n) times the brevity factor
// exp(1 - 1/ratio) when ratio = (hyp length + 1e-15) / (ref length + 1e-9) < 1.
#pragma once
#include <array>
#include <span>
#include <string>
#include <vector>

namespace emrrg::metrics {

struct BleuScore {
  std::array<double, 4> corpus{};                  // BLEU_1..BLEU_4 over the corpus
  std::vector<std::array<double, 4>> per_image;    // the same formula per image
};

BleuScore compute_bleu(std::span<const std::string> hypotheses,
                       std::span<const std::vector<std::string>> references);

}  // namespace emrrg::metrics
