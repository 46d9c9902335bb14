// Host entry points of the fused SwiGLU kernels (swiglu.cu); CPU reference: ops/swiglu.cpp.
#pragma once
#include <vector>

#include "runtime/tensor.h"

namespace emrrg::cuda {

// silu(gate) * up for CUDA tensors of one shape and dtype (float32/bfloat16/float16, any
// strides), silu rounded to the dtype first as Hugging Face's MLP does; contiguous result.
Tensor swiglu_forward(const Tensor& gate, const Tensor& up);
// {dgate = g * up * silu'(gate), dup = g * silu(gate)}, each rounded once; g of gate's dtype.
std::vector<Tensor> swiglu_backward(const Tensor& gate, const Tensor& up, const Tensor& g);

}  // namespace emrrg::cuda
