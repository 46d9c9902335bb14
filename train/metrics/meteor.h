// METEOR 1.5 as pycocoevalcap runs it (`-stdio -l en -norm`, task "rank"), with the exact,
// stem and synonym modules; the paraphrase module is not available (see docs/METRICS.md).
// Segment: normalise and lower-case test and references, align against every reference and
// keep the best-scoring one. Corpus: the segments' sufficient statistics pooled (METEOR's
// MeteorStats.addStats, including its rule that a perfect segment adds no chunk), then scored.
#pragma once
#include <array>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "train/metrics/meteor_aligner.h"
#include "train/metrics/meteor_data.h"

namespace emrrg::metrics {

// The "rank" task's English parameters and module weights (Constants.PARAM_RANK/WEIGHT_RANK).
struct MeteorParameters {
  double alpha = 0.85;
  double beta = 0.20;
  double gamma = 0.60;
  double delta = 0.75;
  std::array<double, kMeteorModules> module_weights = {1.0, 0.6, 0.8};  // exact, stem, synonym
};

struct MeteorStats {
  static constexpr int kMaxModules = 4;  // METEOR's stats always carry 4 module slots
  double test_length = 0, ref_length = 0;
  double test_function_words = 0, ref_function_words = 0;
  double test_total_matches = 0, ref_total_matches = 0;
  std::array<double, kMaxModules> test_content{}, ref_content{}, test_function{}, ref_function{};
  double chunks = 0;
  double test_word_matches = 0, ref_word_matches = 0;
  // Filled by score_meteor_stats().
  double precision = 0, recall = 0, f_mean = 0, frag_penalty = 0, score = 0;

  static MeteorStats from_alignment(const MeteorAlignment& a);
  // MeteorStats.addStats: sums everything except the chunks of a perfect segment.
  void add(const MeteorStats& other);
};

// MeteorScorer.computeMetrics: precision, recall, F-mean (alpha), fragmentation penalty
// gamma * (chunks / mean matches)^beta, score = F-mean * (1 - penalty), NaN -> 0.
void score_meteor_stats(MeteorStats& stats, const MeteorParameters& params = {});

class MeteorScorer {
 public:
  explicit MeteorScorer(std::shared_ptr<const MeteorData> data, MeteorParameters params = {});

  // Stats of one test segment against its references (best reference by score; the first
  // of equal scores wins). Strings are raw text: -norm normalisation is applied here.
  MeteorStats segment(std::string_view test, std::span<const std::string> references);
  // The -norm preprocessing alone: Normalizer then lower-casing, as tokens.
  std::vector<std::string> preprocess(std::string_view text) const;

  const MeteorParameters& parameters() const { return params_; }

 private:
  std::shared_ptr<const MeteorData> data_;
  MeteorParameters params_;
  MeteorAligner aligner_;
};

struct MeteorScore {
  double corpus = 0.0;
  std::vector<double> per_image;
};

// pycocoevalcap's Meteor.compute_score: each hypothesis has "|||" removed and double spaces
// collapsed once, the SCORE line is split on "|||" as METEOR's stdio mode does, segment
// scores and the pooled corpus score are returned.
MeteorScore compute_meteor(std::span<const std::string> hypotheses,
                           std::span<const std::vector<std::string>> references,
                           std::shared_ptr<const MeteorData> data = default_meteor_data());

}  // namespace emrrg::metrics
