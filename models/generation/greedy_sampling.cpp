// Greedy decoding and temperature + top-k + top-p sampling (HF _sample): the processors run on the raw
// logits, then argmax or a draw. A row stops at EOS or max_new_tokens; finished rows are dropped
// from the decoder so they cost nothing.
#include <span>

#include "models/generation/logits_processors.h"
#include "models/generation/search.h"
#include "models/generation/search_rows.h"
#include "runtime/philox.h"

namespace emrrg::generation {

std::vector<GeneratedSequence> greedy_or_sample(StepDecoder& decoder, const Tensor& prompt_logits,
                                                const std::vector<std::vector<int64_t>>& prompt_ids,
                                                const GenerationConfig& config, const TokenCallback& on_token) {
  detail::check_generate_args(decoder, prompt_logits, prompt_ids, config);
  const int64_t vocab = decoder.vocab_size();
  const int64_t rows = prompt_logits.size(0);
  std::vector<GeneratedSequence> out(rows);
  if (config.max_new_tokens == 0) return out;

  std::vector<int64_t> active(rows);  // decoder row i holds output row active[i]
  for (int64_t r = 0; r < rows; ++r) active[r] = r;
  std::vector<float> logits = detail::read_logits(prompt_logits, rows, vocab, 0);
  for (int64_t step = 0;; ++step) {
    std::vector<int64_t> kept, next_tokens;  // decoder rows that continue, and their tokens
    for (size_t i = 0; i < active.size(); ++i) {
      const int64_t r = active[i];
      std::span<float> scores(logits.data() + i * vocab, vocab);
      apply_repetition_penalty(scores, detail::prompt_of(prompt_ids, r), out[r].tokens, config.repetition_penalty);
      apply_min_new_tokens(scores, step, config.min_new_tokens, config.eos_id);
      int64_t token;
      if (config.sampling()) {
        apply_sampling_warpers(scores, config.temperature, config.top_k, config.top_p);
        // One uniform per (step, row): a row draws the same numbers alone or in any batch.
        token = sample_index(scores, philox_uniform(config.seed, static_cast<uint64_t>(step), r));
      } else {
        token = argmax(scores);
      }
      out[r].tokens.push_back(token);
      if (on_token) on_token(r, token);
      if (token != config.eos_id && step + 1 < config.max_new_tokens) {
        kept.push_back(static_cast<int64_t>(i));
        next_tokens.push_back(token);
      }
    }
    if (kept.empty()) return out;
    if (kept.size() != active.size()) {
      decoder.select_rows(kept);
      std::vector<int64_t> still_active;
      for (int64_t i : kept) still_active.push_back(active[i]);
      active = std::move(still_active);
    }
    logits = detail::read_logits(decoder.step(next_tokens), static_cast<int64_t>(active.size()), vocab, step + 1);
  }
}

}  // namespace emrrg::generation
