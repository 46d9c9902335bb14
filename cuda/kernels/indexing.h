// Host entry points of the indexing kernels (indexing.cu): row gather and its deterministic
// scatter-add (index_select along any dim, embedding as dim 0 of [V, D]), and gather along a
// dim with its backward. CPU references: ops/indexing.cpp. Index tensors are int32 or int64
// CUDA tensors whose entries the op has already range-checked.
#pragma once
#include "runtime/tensor.h"

namespace emrrg::cuda {

// x [pre, n, post] (any dtype, any strides), index of m entries (any shape, read in order)
// -> [pre, m, post] contiguous.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// g [pre, m, post] (floating) -> [pre, n, post] = x_shape, out[o, index[j], i] += g[o, j, i]
// summed in ascending j, in float32, so the result equals the CPU's bit for bit.
Tensor index_add(const Tensor& g, const Shape& x_shape, int64_t dim, const Tensor& index);
// x (floating, any strides), index of x's rank -> out of index's shape.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// g of index's shape -> x_shape, each gathered position's gradient summed in ascending order
// along dim.
Tensor gather_backward(const Tensor& g, const Shape& x_shape, int64_t dim, const Tensor& index);

}  // namespace emrrg::cuda
