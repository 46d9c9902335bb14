// Differentiable views and layout ops. Views share storage with their input (no copy);
// reshape copies only when the strides make a view impossible; contiguous() copies only when
// needed.
#pragma once
#include <vector>

#include "runtime/tensor.h"

namespace emrrg {

Tensor reshape(const Tensor& x, const Shape& shape);  // one -1 allowed
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor select(const Tensor& x, int64_t dim, int64_t index);
Tensor expand(const Tensor& x, const Shape& shape);  // -1 keeps a size
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor flip(const Tensor& x, const std::vector<int64_t>& dims);
// A view with explicit geometry over x's storage; x must be contiguous. Overlapping views
// are allowed: their gradient is accumulated.
Tensor as_strided(const Tensor& x, const Shape& shape, const Strides& strides, int64_t offset);
Tensor contiguous(const Tensor& x);
// A tensor sharing x's data but cut from the graph.
Tensor detach(const Tensor& x);
// Converts to another dtype; the gradient is converted back.
Tensor cast(const Tensor& x, DType dtype);

}  // namespace emrrg
