// Host entry points of the layer-norm and RMSNorm kernels (norm.cu). Tensors are CUDA tensors
// of float32, bfloat16 or float16 (computed in float32); the CPU reference is ops/norm.cpp.
#pragma once
#include <vector>

#include "runtime/tensor.h"

namespace emrrg::cuda {

// layer_norm (rms false: (x - mean) * rstd * weight + bias) or Hugging Face's rms_norm
// (x * rstd rounded to x's dtype, then * weight) over each row of x [rows, D] (contiguous);
// weight, bias [D] contiguous of x's dtype, or undefined.
// Returns {y [rows, D], mean [rows] (0 for RMSNorm), rstd [rows]}, the statistics float32.
std::vector<Tensor> norm_rows(bool rms, const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);
// Gradients from x, weight, g [rows, D] and the forward's mean and rstd:
// {gx [rows, D], gweight [D] (undefined without weight), gbias [D] (only with with_bias)}.
// The parameter gradients are summed over rows in a fixed order: the same bits on every run.
std::vector<Tensor> norm_rows_backward(bool rms, const Tensor& x, const Tensor& weight, const Tensor& g,
                                       const Tensor& mean, const Tensor& rstd, bool with_bias);

}  // namespace emrrg::cuda
