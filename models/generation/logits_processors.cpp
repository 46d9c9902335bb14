#include "models/generation/logits_processors.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace emrrg::generation {

namespace {

void penalise_ids(std::span<float> scores, const std::vector<int64_t>& ids, float penalty,
                  std::vector<char>& done) {
  const auto vocab = static_cast<int64_t>(scores.size());
  for (int64_t id : ids) {
    if (id < 0 || id >= vocab)
      throw std::out_of_range("repetition penalty: token id " + std::to_string(id) + " outside the vocabulary of " +
                              std::to_string(vocab));
    if (done[id]) continue;
    done[id] = 1;
    float& s = scores[id];
    s = s > 0.0f ? s / penalty : s * penalty;
  }
}

}  // namespace

void apply_repetition_penalty(std::span<float> scores, const std::vector<int64_t>& prompt,
                              const std::vector<int64_t>& generated, float penalty) {
  if (penalty == 1.0f) return;
  std::vector<char> done(scores.size(), 0);
  penalise_ids(scores, prompt, penalty, done);
  penalise_ids(scores, generated, penalty, done);
}

void apply_min_new_tokens(std::span<float> scores, int64_t generated, int64_t min_new_tokens, int64_t eos_id) {
  if (eos_id >= 0 && generated < min_new_tokens) scores[eos_id] = -std::numeric_limits<float>::infinity();
}

void log_softmax(std::span<float> scores) {
  const float max = *std::max_element(scores.begin(), scores.end());
  if (std::isinf(max)) return;  // all -inf (or +inf): nothing sensible to normalise
  float sum = 0.0f;
  for (float s : scores) sum += std::exp(s - max);
  const float log_sum = std::log(sum);
  for (float& s : scores) s = s - max - log_sum;
}

void apply_sampling_warpers(std::span<float> scores, float temperature, int64_t top_k, float top_p) {
  if (temperature != 1.0f)
    for (float& s : scores) s /= temperature;
  if (top_k > 0 && top_k < static_cast<int64_t>(scores.size())) {
    std::vector<float> sorted(scores.begin(), scores.end());
    std::nth_element(sorted.begin(), sorted.begin() + (top_k - 1), sorted.end(), std::greater<float>());
    const float kth = sorted[top_k - 1];
    for (float& s : scores)
      if (s < kth) s = -std::numeric_limits<float>::infinity();
  }
  if (top_p >= 1.0f) return;
  // Ascending order as HF sorts; the tail (most probable) whose mass exceeds 1 - top_p is kept,
  // and the most probable token always.
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return scores[a] < scores[b]; });
  const float max = scores[order.back()];
  std::vector<float> probs(order.size());
  float sum = 0.0f;
  for (size_t i = 0; i < order.size(); ++i) sum += probs[i] = std::exp(scores[order[i]] - max);
  float cumulative = 0.0f;
  for (size_t i = 0; i + 1 < order.size(); ++i) {
    cumulative += probs[i] / sum;
    if (cumulative <= 1.0f - top_p) scores[order[i]] = -std::numeric_limits<float>::infinity();
  }
}

int64_t argmax(std::span<const float> scores) {
  return std::max_element(scores.begin(), scores.end()) - scores.begin();
}

int64_t sample_index(std::span<const float> scores, float u) {
  const float max = *std::max_element(scores.begin(), scores.end());
  double sum = 0.0;
  for (float s : scores) sum += std::exp(static_cast<double>(s - max));
  const double target = u * sum;
  double cumulative = 0.0;
  int64_t last_drawable = argmax(scores);
  for (size_t i = 0; i < scores.size(); ++i) {
    if (scores[i] == -std::numeric_limits<float>::infinity()) continue;
    cumulative += std::exp(static_cast<double>(scores[i] - max));
    last_drawable = static_cast<int64_t>(i);
    if (cumulative > target) return last_drawable;
  }
  return last_drawable;  // u * sum rounded up to the total
}

}  // namespace emrrg::generation
