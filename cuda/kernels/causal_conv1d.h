// Host entry points of the depthwise causal conv1d kernels (causal_conv1d.cu), SiLU fused.
// Arguments as emrrg::causal_conv1d takes them (ops/causal_conv1d.h), already validated, on
// one CUDA device; x float32, bfloat16 or float16, computed in float32. The CPU reference is
// ops/causal_conv1d.cpp.
#pragma once
#include <vector>

#include "runtime/tensor.h"

namespace emrrg::cuda {

// x [b, d, L], weight [d, W] (or [d, 1, W]), bias [d] or undefined -> [b, d, L] in x's dtype.
Tensor causal_conv1d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, bool silu);
// {dx [b, d, L], dweight (weight's shape and dtype), dbias [d] or undefined} from the forward's
// inputs and dout [b, d, L]; the activation's derivative is recomputed. dweight and dbias are
// summed over batch and time through partials added in a fixed order: the same bits every run.
std::vector<Tensor> causal_conv1d_backward(const Tensor& x, const Tensor& weight, const Tensor& bias, bool silu,
                                           const Tensor& dout);

}  // namespace emrrg::cuda
