// generation::StepDecoder over a Llama and its KV cache: prefill a batch of prompts, then one
// token per row at a time; beam search reorders the cache's rows through select_rows.
#pragma once
#include <vector>

#include "models/generation/step_decoder.h"
#include "models/llama/llama.h"

namespace emrrg::models {

class LlamaStepDecoder final : public generation::StepDecoder {
 public:
  explicit LlamaStepDecoder(const Llama& model) : model_(model) {}

  // Left-pads the prompts (each at least one token) to one length and runs them; returns the
  // logits of each row's last position, [rows, vocab] float32 on the CPU. Starts a new cache.
  Tensor prefill(const std::vector<std::vector<int64_t>>& prompts);
  // The same for input embeddings [rows, L, hidden] with attention_mask [rows, L] (or undefined).
  Tensor prefill_embeds(const Tensor& embeds, const Tensor& attention_mask);

  int64_t vocab_size() const override { return model_.config().vocab_size; }
  Tensor step(const std::vector<int64_t>& tokens) override;
  void select_rows(const std::vector<int64_t>& rows) override;

  int64_t rows() const { return cache_ ? cache_->rows() : 0; }

 private:
  Tensor last_logits(const Tensor& hidden) const;  // [rows, L, hidden] -> [rows, vocab] float32 CPU
  KVCache& cache();

  const Llama& model_;
  std::unique_ptr<KVCache> cache_;
};

}  // namespace emrrg::models
