// Reductions over any set of dims. An empty dim list reduces over all dims.
#pragma once
#include <vector>

#include "runtime/tensor.h"

namespace emrrg {

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Variance with Bessel's correction by default (correction = 1, as torch.var).
Tensor var(const Tensor& x, const std::vector<int64_t>& dims = {}, int64_t correction = 1, bool keepdim = false);
// Largest value along dim; the gradient goes to the first position holding it.
Tensor max(const Tensor& x, int64_t dim, bool keepdim = false);
// Position (int64) of the first largest value along dim. Not differentiable.
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);

// Sums g over broadcast dims so it has `shape` (the backward of broadcasting).
Tensor sum_to_shape(const Tensor& g, const Shape& shape);

}  // namespace emrrg
