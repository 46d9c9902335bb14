// The interface between a decoder with a KV cache (models/llama, models/emrrg) and the search
// algorithms that drive it (greedy, sampling, beam search; models/generation/).
#pragma once
#include <cstdint>
#include <vector>

#include "runtime/tensor.h"

namespace emrrg::generation {

// A batch of independent sequences ("rows": prompts, times beams in beam search), each with its
// own cache. The caller runs the prompts (prefill) and hands their last-position logits to the
// search; the search then feeds one token per row at a time.
class StepDecoder {
 public:
  virtual ~StepDecoder() = default;
  virtual int64_t vocab_size() const = 0;
  // Appends tokens[r] to row r and returns the logits of that new position, [rows, vocab] float32
  // on the CPU.
  virtual Tensor step(const std::vector<int64_t>& tokens) = 0;
  // Rearranges the cache: new row i continues old row rows[i]. Rows may repeat or be dropped,
  // so the row count may change (beam search expands each prompt to num_beams rows with it).
  virtual void select_rows(const std::vector<int64_t>& rows) = 0;
};

}  // namespace emrrg::generation
