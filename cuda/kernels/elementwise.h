// Host entry points of the elementwise, row-sum and data-movement kernels (elementwise.cu).
// Tensors are CUDA tensors of float32, bfloat16 or float16 (computed in float32); shapes as
// the CPU ops in ops/ define them. Each returns a new contiguous tensor unless named *_into.
#pragma once
#include "ops/scalar_math.h"
#include "runtime/tensor.h"

namespace emrrg::cuda {

Tensor unary(UnaryOp op, const Tensor& x, double a, double b);
Tensor unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& g, double a, double b);
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
Tensor binary_backward(BinaryOp op, bool wrt_b, const Tensor& a, const Tensor& b, const Tensor& y, const Tensor& g);
Tensor sum_rows(const Tensor& x);  // [rows, n] contiguous -> [rows]

// Runtime primitives on one device: strided copy with conversion among the floating dtypes
// (or any dtype to itself), dst += src, fill.
void copy(const Tensor& dst, const Tensor& src);
void add_into(const Tensor& dst, const Tensor& src);
void fill(const Tensor& t, double value);

}  // namespace emrrg::cuda
