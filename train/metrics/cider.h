// CIDEr-D as pycocoevalcap's cider_scorer.py computes it: n = 1..4, sigma = 6, document
// frequency of every n-gram over the evaluated images' references (an n-gram counts once
// per image), tf-idf weight tf * (ln N - ln max(1, df)) with N the number of images, per-order
// norms, clipped similarity sum_g min(w_h, w_r) * w_r / (|h| |r|), the Gaussian length
// penalty exp(-delta^2 / (2 sigma^2)) where delta counts BIGRAMS (the reference's quirk),
// mean over orders and references, times 10, and the mean over images. With one image
// every weight is 0 and so is the score.
#pragma once
#include <span>
#include <string>
#include <vector>

namespace emrrg::metrics {

struct CiderScore {
  double corpus = 0.0;
  std::vector<double> per_image;
};

CiderScore compute_cider(std::span<const std::string> hypotheses,
                         std::span<const std::vector<std::string>> references);

}  // namespace emrrg::metrics
