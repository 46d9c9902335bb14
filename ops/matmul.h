// Matrix products on BLAS (OpenBLAS sgemm/dgemm on the CPU). Transposed operands are passed
// to BLAS as transpose flags, never copied; other strided layouts are copied once.
#pragma once
#include "runtime/tensor.h"

namespace emrrg {

// torch.matmul semantics: 1-D operands are promoted to matrices and the added dim removed;
// leading (batch) dims broadcast. a: [..., m, k], b: [..., k, n] -> [..., m, n].
Tensor matmul(const Tensor& a, const Tensor& b);
// a: [B, m, k], b: [B, k, n] -> [B, m, n].
Tensor bmm(const Tensor& a, const Tensor& b);
// x: [..., in], weight: [out, in], bias: [out] or undefined -> [..., out].
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace emrrg
