#include "models/llama/llama_step_decoder.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "autograd/tape.h"
#include "ops/shape.h"

namespace emrrg::models {

Tensor LlamaStepDecoder::last_logits(const Tensor& hidden) const {
  Tensor last = select(hidden, 1, hidden.size(1) - 1);  // [rows, hidden]
  return to_device(convert(model_.logits(last), DType::Float32), Device::cpu());
}

KVCache& LlamaStepDecoder::cache() {
  if (!cache_) throw std::logic_error("LlamaStepDecoder: step or select_rows before prefill");
  return *cache_;
}

Tensor LlamaStepDecoder::prefill(const std::vector<std::vector<int64_t>>& prompts) {
  if (prompts.empty()) throw std::invalid_argument("LlamaStepDecoder::prefill: no prompts");
  size_t length = 0;
  for (size_t r = 0; r < prompts.size(); ++r) {
    if (prompts[r].empty()) throw std::invalid_argument("LlamaStepDecoder::prefill: prompt " + std::to_string(r) + " is empty");
    length = std::max(length, prompts[r].size());
  }
  const int64_t rows = static_cast<int64_t>(prompts.size()), L = static_cast<int64_t>(length);
  // Padding ids are never attended to; id 0 is valid in every vocabulary.
  std::vector<int64_t> ids(rows * L, 0), mask(rows * L, 0);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t pad = L - static_cast<int64_t>(prompts[r].size());
    for (int64_t i = pad; i < L; ++i) {
      ids[r * L + i] = prompts[r][i - pad];
      mask[r * L + i] = 1;
    }
  }
  Tensor id_tensor = to_device(from_vector(ids, {rows, L}), model_.device());
  autograd::NoGradGuard no_grad;
  return prefill_embeds(model_.embed(id_tensor), from_vector(mask, {rows, L}));
}

Tensor LlamaStepDecoder::prefill_embeds(const Tensor& embeds, const Tensor& attention_mask) {
  autograd::NoGradGuard no_grad;
  cache_ = std::make_unique<KVCache>(model_.make_cache(embeds.size(0), std::max<int64_t>(64, 2 * embeds.size(1))));
  return last_logits(model_.hidden_states(embeds, attention_mask, cache_.get()));
}

Tensor LlamaStepDecoder::step(const std::vector<int64_t>& tokens) {
  KVCache& c = cache();
  if (static_cast<int64_t>(tokens.size()) != c.rows())
    throw std::invalid_argument("LlamaStepDecoder::step: " + std::to_string(tokens.size()) + " tokens for " +
                                std::to_string(c.rows()) + " rows");
  autograd::NoGradGuard no_grad;
  Tensor ids = to_device(from_vector(tokens, {c.rows(), 1}), model_.device());
  return last_logits(model_.hidden_states(model_.embed(ids), Tensor(), &c));
}

void LlamaStepDecoder::select_rows(const std::vector<int64_t>& rows) { cache().select_rows(rows); }

}  // namespace emrrg::models
