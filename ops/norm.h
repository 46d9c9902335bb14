// Normalisation over the last dim.
#pragma once
#include "runtime/tensor.h"

namespace emrrg {

// (x - mean) / sqrt(var + eps) * weight + bias; weight and bias [D] or undefined.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);
// Llama's RMSNorm as Hugging Face computes it: x * rsqrt(mean(x^2) + eps) in float32, rounded to
// x's dtype, then times weight [D].
Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps = 1e-5);

}  // namespace emrrg
