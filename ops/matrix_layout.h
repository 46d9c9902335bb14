// How a BLAS library (OpenBLAS on the CPU, cuBLAS on CUDA) sees the last two dims of a tensor:
// a row-major matrix with leading dimension `ld`, or the transpose of one. Transposed operands
// are passed as BLAS transpose flags instead of being copied.
#pragma once
#include <cstdint>

#include "runtime/tensor.h"

namespace emrrg {

struct MatrixLayout {
  bool transposed = false;
  int64_t ld = 0;
};

// False when the strides fit neither form (the operand must be made contiguous first).
bool blas_layout(const Tensor& t, MatrixLayout& layout);
// The layout of t, replacing t by a contiguous copy first when no layout fits.
MatrixLayout as_blas_operand(Tensor& t);

}  // namespace emrrg
