// ROUGE-L as pycocoevalcap's rouge.py computes it: tokens from splitting on single spaces
// (so double spaces give empty tokens), P = max over references of LCS/|hyp|, R = max over
// references of LCS/|ref| (maximised separately), F = (1 + b^2) P R / (R + b^2 P) with
// b = 1.2 (0 when P or R is 0), and the corpus score is the mean over images.
#pragma once
#include <span>
#include <string>
#include <vector>

namespace emrrg::metrics {

struct RougeScore {
  double corpus = 0.0;
  std::vector<double> per_image;
};

RougeScore compute_rouge_l(std::span<const std::string> hypotheses,
                           std::span<const std::vector<std::string>> references);

// Length of the longest common subsequence of two token sequences.
std::size_t lcs_length(const std::vector<std::string>& a, const std::vector<std::string>& b);

}  // namespace emrrg::metrics
