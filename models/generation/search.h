// Search algorithms over a StepDecoder, with Hugging Face generate()'s semantics (transformers
// generation/utils.py: _sample, _beam_search): greedy, temperature + top-p sampling, and beam
// search. The caller has run the prompts (prefill) and passes their last-position logits.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "models/generation/generation_config.h"
#include "models/generation/step_decoder.h"

namespace emrrg::generation {

struct GeneratedSequence {
  // The new tokens, EOS included when the sequence ended with it; the prompt is not repeated.
  std::vector<int64_t> tokens;
  // Beam search: sum of the processed log-probabilities / tokens.size()^length_penalty.
  // Greedy and sampling: 0.
  float score = 0.0f;
};

// Called for every new token of greedy and sampled rows, as soon as it is chosen (streaming).
using TokenCallback = std::function<void(int64_t row, int64_t token)>;

// prompt_logits: [rows, vocab] float32 on the CPU, row r's logits after its prompt; the decoder
// holds those `rows` rows. prompt_ids: empty, or one entry per row with the prompt's token ids
// (the repetition penalty sees them; an empty entry for a prompt given as embeddings).
// Returns one sequence per row. Beam search leaves the decoder with rows in an unspecified
// arrangement. Throws std::invalid_argument on a bad config or mismatched shapes.
std::vector<GeneratedSequence> generate(StepDecoder& decoder, const Tensor& prompt_logits,
                                        const std::vector<std::vector<int64_t>>& prompt_ids,
                                        const GenerationConfig& config, const TokenCallback& on_token = {});

// The three algorithms generate() picks from (config.num_beams > 1: beam search; else
// config.sampling(): sampling; else greedy).
std::vector<GeneratedSequence> greedy_or_sample(StepDecoder& decoder, const Tensor& prompt_logits,
                                                const std::vector<std::vector<int64_t>>& prompt_ids,
                                                const GenerationConfig& config, const TokenCallback& on_token);
std::vector<GeneratedSequence> beam_search(StepDecoder& decoder, const Tensor& prompt_logits,
                                           const std::vector<std::vector<int64_t>>& prompt_ids,
                                           const GenerationConfig& config);

}  // namespace emrrg::generation
