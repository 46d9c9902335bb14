// softmax / log_softmax along a dim, and cross-entropy over class logits.
#pragma once
#include "runtime/tensor.h"

namespace emrrg {

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
// logits [..., C], target [...] (int32/int64 class ids); mean over targets != ignore_index
// (NaN when every target is ignored, as PyTorch). Returns a scalar.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index = -100);

}  // namespace emrrg
