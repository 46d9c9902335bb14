// What the search algorithms share: checking the arguments and reading the decoder's logits.
#pragma once
#include <cstdint>
#include <vector>

#include "models/generation/search.h"

namespace emrrg::generation::detail {

// Checks config, the prompt logits' shape against the decoder and prompt_ids' row count.
void check_generate_args(const StepDecoder& decoder, const Tensor& prompt_logits,
                         const std::vector<std::vector<int64_t>>& prompt_ids, const GenerationConfig& config);

// logits [rows, vocab] float32 on the CPU -> a row-major copy. Throws std::runtime_error naming
// `step` when the shape is not that or a value is NaN (the search cannot order NaN scores).
std::vector<float> read_logits(const Tensor& logits, int64_t rows, int64_t vocab, int64_t step);

// The prompt ids of row r (empty when none were given).
const std::vector<int64_t>& prompt_of(const std::vector<std::vector<int64_t>>& prompt_ids, size_t r);

}  // namespace emrrg::generation::detail
