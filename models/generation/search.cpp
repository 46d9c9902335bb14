#include "models/generation/search.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "models/generation/search_rows.h"

namespace emrrg::generation {

void GenerationConfig::validate() const {
  auto fail = [](const std::string& what) { throw std::invalid_argument("GenerationConfig: " + what); };
  if (max_new_tokens < 0) fail("max_new_tokens must be >= 0, got " + std::to_string(max_new_tokens));
  if (min_new_tokens < 0) fail("min_new_tokens must be >= 0, got " + std::to_string(min_new_tokens));
  if (eos_id < -1) fail("eos_id must be a token id or -1 (none), got " + std::to_string(eos_id));
  if (num_beams < 1) fail("num_beams must be >= 1, got " + std::to_string(num_beams));
  if (num_beams > 1 && do_sample) fail("beam search with sampling is not supported (num_beams > 1, do_sample)");
  if (!(temperature >= 0.0f) || !std::isfinite(temperature))
    fail("temperature must be finite and >= 0, got " + std::to_string(temperature));
  if (top_k < 0) fail("top_k must be >= 0 (0: off), got " + std::to_string(top_k));
  if (!(top_p > 0.0f && top_p <= 1.0f)) fail("top_p must be in (0, 1], got " + std::to_string(top_p));
  if (!(repetition_penalty > 0.0f) || !std::isfinite(repetition_penalty))
    fail("repetition_penalty must be finite and > 0, got " + std::to_string(repetition_penalty));
  if (!std::isfinite(length_penalty)) fail("length_penalty must be finite");
}

namespace detail {

void check_generate_args(const StepDecoder& decoder, const Tensor& prompt_logits,
                         const std::vector<std::vector<int64_t>>& prompt_ids, const GenerationConfig& config) {
  config.validate();
  if (!prompt_logits.defined() || prompt_logits.dim() != 2 || prompt_logits.size(1) != decoder.vocab_size())
    throw std::invalid_argument("generate: prompt_logits must be [rows, " + std::to_string(decoder.vocab_size()) +
                                "], got " +
                                (prompt_logits.defined() ? shape_str(prompt_logits.shape()) : "an undefined tensor"));
  if (!prompt_ids.empty() && static_cast<int64_t>(prompt_ids.size()) != prompt_logits.size(0))
    throw std::invalid_argument("generate: prompt_ids has " + std::to_string(prompt_ids.size()) +
                                " rows, prompt_logits " + std::to_string(prompt_logits.size(0)));
  if (config.eos_id >= decoder.vocab_size())
    throw std::invalid_argument("generate: eos_id " + std::to_string(config.eos_id) + " outside the vocabulary of " +
                                std::to_string(decoder.vocab_size()));
}

std::vector<float> read_logits(const Tensor& logits, int64_t rows, int64_t vocab, int64_t step) {
  const std::string where = "generate: the decoder's logits at step " + std::to_string(step);
  if (!logits.defined() || logits.dim() != 2 || logits.size(0) != rows || logits.size(1) != vocab)
    throw std::runtime_error(where + " must be [" + std::to_string(rows) + ", " + std::to_string(vocab) + "], got " +
                             (logits.defined() ? shape_str(logits.shape()) : "an undefined tensor"));
  if (logits.dtype() != DType::Float32 || !logits.device().is_cpu())
    throw std::runtime_error(where + " must be float32 on the CPU");
  std::vector<float> values = logits.to_vector<float>();
  for (size_t i = 0; i < values.size(); ++i)
    if (std::isnan(values[i]))
      throw std::runtime_error(where + " hold NaN (row " + std::to_string(i / vocab) + ", token " +
                               std::to_string(i % vocab) + ")");
  return values;
}

const std::vector<int64_t>& prompt_of(const std::vector<std::vector<int64_t>>& prompt_ids, size_t r) {
  static const std::vector<int64_t> kNone;
  return prompt_ids.empty() ? kNone : prompt_ids[r];
}

}  // namespace detail

std::vector<GeneratedSequence> generate(StepDecoder& decoder, const Tensor& prompt_logits,
                                        const std::vector<std::vector<int64_t>>& prompt_ids,
                                        const GenerationConfig& config, const TokenCallback& on_token) {
  if (config.num_beams > 1) return beam_search(decoder, prompt_logits, prompt_ids, config);
  return greedy_or_sample(decoder, prompt_logits, prompt_ids, config, on_token);
}

}  // namespace emrrg::generation
