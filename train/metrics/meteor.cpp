#include "train/metrics/meteor.h"

#include <algorithm>
#include <cmath>

#include "train/metrics/meteor_normalizer.h"
#include "train/metrics/meteor_text.h"
#include "train/metrics/ngram.h"
#include "train/metrics/text.h"

namespace emrrg::metrics {

MeteorStats MeteorStats::from_alignment(const MeteorAlignment& a) {
  MeteorStats s;
  s.test_length = a.test_length;
  s.ref_length = a.ref_length;
  s.test_function_words = a.test_function_words;
  s.ref_function_words = a.ref_function_words;
  for (int i = 0; i < kMeteorModules; ++i) {
    s.test_content[i] = a.test_content[i];
    s.ref_content[i] = a.ref_content[i];
    s.test_function[i] = a.test_function[i];
    s.ref_function[i] = a.ref_function[i];
  }
  for (int i = 0; i < kMaxModules; ++i) {
    s.test_total_matches += s.test_content[i];
    s.test_total_matches += s.test_function[i];
    s.ref_total_matches += s.ref_content[i];
    s.ref_total_matches += s.ref_function[i];
  }
  s.test_word_matches = s.test_total_matches;  // word-level (not character-based) scoring
  s.ref_word_matches = s.ref_total_matches;
  s.chunks = a.chunks;
  return s;
}

void MeteorStats::add(const MeteorStats& o) {
  test_length += o.test_length;
  ref_length += o.ref_length;
  test_function_words += o.test_function_words;
  ref_function_words += o.ref_function_words;
  test_total_matches += o.test_total_matches;
  ref_total_matches += o.ref_total_matches;
  for (int i = 0; i < kMaxModules; ++i) {
    test_content[i] += o.test_content[i];
    ref_content[i] += o.ref_content[i];
    test_function[i] += o.test_function[i];
    ref_function[i] += o.ref_function[i];
  }
  if (!(o.test_total_matches == o.test_length && o.ref_total_matches == o.ref_length && o.chunks == 1.0)) {
    chunks += o.chunks;
  }
  test_word_matches += o.test_word_matches;
  ref_word_matches += o.ref_word_matches;
}

void score_meteor_stats(MeteorStats& s, const MeteorParameters& p) {
  const double test_weighted_length =
      (p.delta * (s.test_length - s.test_function_words)) + ((1.0 - p.delta) * s.test_function_words);
  const double ref_weighted_length =
      (p.delta * (s.ref_length - s.ref_function_words)) + ((1.0 - p.delta) * s.ref_function_words);
  double test_weighted = 0, ref_weighted = 0;
  for (int i = 0; i < kMeteorModules; ++i) test_weighted += s.test_content[i] * p.module_weights[i] * p.delta;
  for (int i = 0; i < kMeteorModules; ++i) ref_weighted += s.ref_content[i] * p.module_weights[i] * p.delta;
  for (int i = 0; i < kMeteorModules; ++i)
    test_weighted += s.test_function[i] * p.module_weights[i] * (1.0 - p.delta);
  for (int i = 0; i < kMeteorModules; ++i)
    ref_weighted += s.ref_function[i] * p.module_weights[i] * (1.0 - p.delta);
  s.precision = test_weighted / test_weighted_length;
  s.recall = ref_weighted / ref_weighted_length;
  s.f_mean = 1.0 / (((1.0 - p.alpha) / s.precision) + (p.alpha / s.recall));
  double frag;
  if (s.test_total_matches == s.test_length && s.ref_total_matches == s.ref_length && s.chunks == 1) {
    frag = 0;
  } else {
    frag = s.chunks / ((s.test_word_matches + s.ref_word_matches) / 2);
  }
  s.frag_penalty = p.gamma * std::pow(frag, p.beta);
  const double score = s.f_mean * (1.0 - s.frag_penalty);
  s.score = std::isnan(score) ? 0.0 : std::max(score, 0.0);
}

MeteorScorer::MeteorScorer(std::shared_ptr<const MeteorData> data, MeteorParameters params)
    : data_(std::move(data)), params_(params), aligner_(data_) {}

std::vector<std::string> MeteorScorer::preprocess(std::string_view text) const {
  return java_tokenize(to_lower(meteor_normalize(text, *data_)));
}

MeteorStats MeteorScorer::segment(std::string_view test, std::span<const std::string> references) {
  const auto test_words = preprocess(test);
  MeteorStats best;
  best.score = -1;
  for (const auto& ref : references) {
    MeteorStats cur = MeteorStats::from_alignment(aligner_.align(test_words, preprocess(ref)));
    score_meteor_stats(cur, params_);
    if (cur.score > best.score) best = cur;
  }
  return best;
}

MeteorScore compute_meteor(std::span<const std::string> hypotheses,
                           std::span<const std::vector<std::string>> references,
                           std::shared_ptr<const MeteorData> data) {
  check_corpus(hypotheses.size(), references, "METEOR");
  MeteorScorer scorer(std::move(data));
  MeteorScore result;
  result.per_image.reserve(hypotheses.size());
  MeteorStats total;
  for (std::size_t img = 0; img < hypotheses.size(); ++img) {
    // The line pycocoevalcap writes, split the way METEOR's stdio mode splits it.
    const std::string hyp = replace_all(replace_all(hypotheses[img], "|||", ""), "  ", " ");
    std::string line = "SCORE";
    for (const auto& r : references[img]) line += " ||| " + r;
    line += " ||| " + hyp;
    std::vector<std::string> parts = split_on(line, "|||");
    while (!parts.empty() && parts.back().empty()) parts.pop_back();  // Java's String.split
    std::vector<std::string> refs;
    for (std::size_t k = 1; k + 1 < parts.size(); ++k) refs.emplace_back(java_trim(parts[k]));
    const std::string test(java_trim(parts.back()));
    MeteorStats s = scorer.segment(test, refs);
    result.per_image.push_back(s.score);
    total.add(s);
  }
  score_meteor_stats(total, scorer.parameters());
  result.corpus = total.score;
  return result;
}

}  // namespace emrrg::metrics
