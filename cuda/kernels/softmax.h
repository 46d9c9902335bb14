// Host entry points of the softmax and cross-entropy kernels (softmax.cu). Tensors are CUDA
// tensors of float32, bfloat16 or float16 (computed in float32); the CPU reference is
// ops/softmax.cpp.
#pragma once
#include <vector>

#include "runtime/tensor.h"

namespace emrrg::cuda {

// Softmax (log-softmax when log_space) of each row: x [rows, n] contiguous -> [rows, n].
Tensor softmax_rows(const Tensor& x, bool log_space);
// Its gradient from y = softmax_rows(x) and g, both [rows, n] contiguous of y's dtype:
// softmax y * (g - sum(g y)), log-softmax g - exp(y) * sum(g).
Tensor softmax_rows_backward(const Tensor& y, const Tensor& g, bool log_space);
// Mean cross-entropy of logits [N, C] (contiguous) against target [N] (int32 or int64,
// contiguous, same device), every target in [0, C) or ignore_index, `count` of them kept:
// {loss [] of logits' dtype (NaN when count is 0), log-sum-exp of each row [N] float32}.
std::vector<Tensor> cross_entropy_rows(const Tensor& logits, const Tensor& target, int64_t ignore_index, int64_t count);
// d loss / d logits [N, C] given g [] (the loss' gradient) and the forward's lse [N].
Tensor cross_entropy_rows_backward(const Tensor& logits, const Tensor& target, const Tensor& lse, const Tensor& g,
                                   int64_t ignore_index, int64_t count);

}  // namespace emrrg::cuda
