// Host entry points of the LoRA-fused linear kernels (lora_linear.cu); CPU reference:
// ops/lora_linear.cpp. Arguments as DeviceKernels::lora_linear_forward/backward take them.
#pragma once
#include <vector>

#include "ops/device_kernels.h"
#include "runtime/tensor.h"

namespace emrrg::cuda {

// x [N, in] (any strides), weight [out, in], bias [out] or undefined (x's dtype: float32,
// bfloat16 or float16), lora_a [r, in], lora_b [rows, r] (one floating dtype, maybe another).
// Returns {y [N, out] x's dtype, h [N, r] float32: drop(x) A^T after the rank-site dropout}.
// bf16/fp16 with r <= 64 run on the tensor cores: each x tile in shared memory feeds both the
// W tile product and the rank-r product, and s h B^T is added to the output tile before it is
// written; the adapter is rounded to x's dtype for the tensor cores. Anything else takes a
// SIMT kernel with the same structure.
std::vector<Tensor> lora_linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& lora_a,
                                        const Tensor& lora_b, const DeviceKernels::LoraScalars& s);
// {dx (undefined unless need_dx), dlora_a, dlora_b, dbias (undefined unless need_dbias)} from the
// forward's inputs, its h and g [N, out] in x's dtype, the dropout mask redrawn from (seed,
// offset). dx = g W goes to cuBLAS (the backward's one large GEMM, 2 N out in flops, with no
// second product sharing its operand tiles); the rank-r terms are kernels here, the sums over N
// per-chunk partials added in a fixed order (no float atomics).
std::vector<Tensor> lora_linear_backward(const Tensor& x, const Tensor& weight, const Tensor& lora_a,
                                         const Tensor& lora_b, const Tensor& h, const Tensor& g,
                                         const DeviceKernels::LoraScalars& s, bool need_dx, bool need_dbias);

}  // namespace emrrg::cuda
