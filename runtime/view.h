// View geometry: new shapes/strides over the same storage, never copying. These do not record
// autograd; ops/ wraps each in a differentiable op of the same name.
#pragma once
#include <optional>

#include "runtime/tensor.h"

namespace emrrg::views {

// Normalises a possibly negative dim against rank; throws naming `op` when out of range.
int64_t wrap_dim(int64_t dim, int64_t rank, const char* op);
// Resolves one -1 entry of `shape` against numel; throws naming `op` when impossible.
Shape infer_shape(Shape shape, int64_t numel, const char* op);
// Broadcast of two shapes (NumPy rules); throws naming `op` and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// A view with the new shape if the strides allow one; nullopt when a copy is required.
std::optional<Tensor> try_reshape(const Tensor& t, const Shape& shape);
Tensor permute(const Tensor& t, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& t, int64_t d0, int64_t d1);
// Elements start, start+step, ... < end along dim (end clamped to the size).
Tensor slice(const Tensor& t, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor narrow(const Tensor& t, int64_t dim, int64_t start, int64_t length);
Tensor select(const Tensor& t, int64_t dim, int64_t index);
Tensor expand(const Tensor& t, const Shape& shape);
Tensor squeeze(const Tensor& t, int64_t dim);
Tensor unsqueeze(const Tensor& t, int64_t dim);
Tensor flip(const Tensor& t, const std::vector<int64_t>& dims);
Tensor as_strided(const Tensor& t, const Shape& shape, const Strides& strides, int64_t offset);

}  // namespace emrrg::views
