// The settings of one generate() call, with Hugging Face's names and defaults (GenerationConfig
// in transformers), restricted to what EMRRG and `emrrg generate` use.
#pragma once
#include <cstdint>

namespace emrrg::generation {

struct GenerationConfig {
  int64_t max_new_tokens = 20;
  // EOS is masked to -inf until this many tokens have been generated.
  int64_t min_new_tokens = 0;
  // -1: no EOS, every row runs to max_new_tokens.
  int64_t eos_id = -1;
  // Sampling (num_beams == 1 only). Off: greedy. temperature 0 also means greedy.
  bool do_sample = false;
  float temperature = 1.0f;
  // Keep the top_k most probable tokens (0: all). Hugging Face's default is 50; llama2.c has none.
  int64_t top_k = 0;
  // Nucleus: keep the most probable tokens whose mass reaches top_p (1: keep all).
  float top_p = 1.0f;
  uint64_t seed = 0;
  // 1: greedy or sampling; more: beam search.
  int64_t num_beams = 1;
  // Seen tokens' positive scores are divided by it, negative ones multiplied (1: off).
  float repetition_penalty = 1.0f;
  // A finished hypothesis scores sum_logprobs / generated_len^length_penalty (beam search).
  float length_penalty = 1.0f;

  bool sampling() const { return do_sample && temperature > 0.0f; }
  // Throws std::invalid_argument naming the first setting out of range.
  void validate() const;
};

}  // namespace emrrg::generation
