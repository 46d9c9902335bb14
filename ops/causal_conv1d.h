// Depthwise causal 1-D convolution (Dao-AILab/causal-conv1d semantics, NOTES §2):
//   out[b, d, t] = act(bias[d] + sum_{w=0..W-1} weight[d, w] * x[b, d, t - (W-1) + w]),
// x = 0 before t = 0, weight[d, W-1] multiplies the current position, act = silu or identity.
#pragma once
#include "runtime/tensor.h"

namespace emrrg {

// x: [batch, d, L] (float32, bfloat16 or float16, any strides); weight: [d, W] or [d, 1, W]
// with W in 2..4; bias: [d] or undefined. Returns [batch, d, L] in x's dtype. Differentiable in
// x, weight and bias (one Function; the backward recomputes the pre-activation).
Tensor causal_conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, bool silu_activation);

}  // namespace emrrg
