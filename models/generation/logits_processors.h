// Transformations of one row of next-token scores [vocab], as Hugging Face's logits processors
// (transformers generation/logits_process.py) apply them. Beam search runs them on
// log-probabilities, greedy and sampling on the raw logits.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace emrrg::generation {

// RepetitionPenaltyLogitsProcessor: every id in `prompt` or `generated` has its score s replaced
// by s / penalty when s > 0, else s * penalty (once per id, however often it occurs).
void apply_repetition_penalty(std::span<float> scores, const std::vector<int64_t>& prompt,
                              const std::vector<int64_t>& generated, float penalty);

// MinNewTokensLengthLogitsProcessor: EOS gets -inf while fewer than min_new_tokens are generated.
void apply_min_new_tokens(std::span<float> scores, int64_t generated, int64_t min_new_tokens, int64_t eos_id);

// In place: x - max - log(sum(exp(x - max))), in float32 like torch.log_softmax.
void log_softmax(std::span<float> scores);

// HF's sampling warpers in their order: TemperatureLogitsWarper; TopKLogitsWarper (scores below
// the top_k-th largest get -inf; 0: off); TopPLogitsWarper (min_tokens_to_keep 1: tokens outside
// the smallest most-probable set whose probability reaches top_p get -inf).
void apply_sampling_warpers(std::span<float> scores, float temperature, int64_t top_k, float top_p);

// The first index of the largest score (torch.argmax).
int64_t argmax(std::span<const float> scores);

// Draws from softmax(scores) by inverting the cumulative distribution at u in [0, 1), walking
// the tokens in id order; -inf scores are never drawn.
int64_t sample_index(std::span<const float> scores, float u);

}  // namespace emrrg::generation
