// Matrix products of CUDA tensors on cuBLAS, with the semantics of the CPU emrrg::matmul:
// [..., m, k] @ [..., k, n] -> [..., m, n], 1-D operands promoted and the added dim removed,
// batch dims broadcast. Operands whose last two dims are a transposed matrix go to cuBLAS as
// a transpose flag, not a copy. float32, float64, bfloat16 and float16; the 16-bit types
// accumulate in float32 (CUBLAS_COMPUTE_32F) and round the result once. No autograd here.
#pragma once
#include <cublas_v2.h>

#include "runtime/tensor.h"

namespace emrrg::cuda {

Tensor matmul(const Tensor& a, const Tensor& b);
// Writes a @ b into `out`: contiguous, of the result's shape, dtype and device. Every element
// of `out` is written; its previous contents are never read.
void matmul_out(const Tensor& a, const Tensor& b, const Tensor& out);
// The shape matmul(a, b) has (throws for mismatched inner or batch dims).
Shape matmul_shape(const Tensor& a, const Tensor& b);

// The calling thread's cuBLAS handle for the current device, bound to the current stream.
cublasHandle_t cublas_handle();

}  // namespace emrrg::cuda
