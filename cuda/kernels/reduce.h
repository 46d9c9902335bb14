// Host entry points of the row reductions beyond sum (reduce.cu). The op moves the reduced
// dims last and makes them contiguous (ops/reduce.cpp), so each kernel reduces the rows of a
// contiguous [rows, n] float32, bfloat16 or float16 CUDA tensor, computing in float32.
#pragma once
#include "runtime/tensor.h"

namespace emrrg::cuda {

// [rows, n] -> int64 [rows]: the first position of the row's maximum; a NaN beats any number
// and the first NaN wins, as in the CPU argmax.
Tensor argmax_rows(const Tensor& x);
// [rows, n] -> [rows] in x's dtype: sum_j (x[r, j] - mean_r)^2 / denom (two passes over the row).
Tensor var_rows(const Tensor& x, double denom);

}  // namespace emrrg::cuda
