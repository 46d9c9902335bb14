#include "ops/matmul.h"

#include "autograd/tape.h"
#include "ops/cpu_gemm.h"
#include "ops/device_kernels.h"
#include "ops/elementwise.h"
#include "ops/kernel_util.h"
#include "ops/matrix_layout.h"
#include "ops/reduce.h"
#include "ops/shape.h"

namespace emrrg {

namespace {

// [..., m, k] x [..., k, n] with batch dims already broadcast to the same shape.
template <typename T> Tensor batched_gemm(Tensor a, Tensor b) {
  const int64_t r = a.dim();
  const int64_t m = a.shape()[r - 2], k = a.shape()[r - 1], n = b.shape()[r - 1];
  const MatrixLayout la = as_blas_operand(a), lb = as_blas_operand(b);
  Shape out_shape(a.shape().begin(), a.shape().end() - 2);
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor c = empty(out_shape, dtype_of<T>());
  if (c.numel() == 0) return c;
  if (k == 0) {
    fill(c, 0.0);
    return c;
  }
  const Shape batch(a.shape().begin(), a.shape().end() - 2);
  const int64_t batches = shape_numel(batch);
  const T* pa = static_cast<const T*>(a.raw_data());
  const T* pb = static_cast<const T*>(b.raw_data());
  T* pc = c.data<T>();
  for (int64_t i = 0; i < batches; ++i) {
    int64_t oa = 0, ob = 0, rem = i;
    for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
      const int64_t idx = rem % batch[d];
      rem /= batch[d];
      oa += idx * a.strides()[d];
      ob += idx * b.strides()[d];
    }
    detail::cpu_gemm<T>(la.transposed, lb.transposed, m, n, k, T(1), pa + oa, la.ld, pb + ob, lb.ld, T(0), pc + i * m * n,
                        n);
  }
  return c;
}

// The raw product of two >= 2-D tensors of one floating dtype (no autograd).
Tensor matmul_kernel(const Tensor& a, const Tensor& b) {
  const char* op = "matmul";
  if (!a.device().is_cpu()) {
    if (a.device() != b.device()) detail::op_error(op, "operands on " + a.device().str() + " and " + b.device().str());
    return device_kernel(op, a, &DeviceKernels::matmul)(a, b);
  }
  if (a.shape()[a.dim() - 1] != b.shape()[b.dim() - 2])
    detail::op_error(op, "inner dimensions differ: " + shape_str(a.shape()) + " @ " + shape_str(b.shape()));
  // A [..., m, k] @ [k, n] folds the batch into m when that needs no copy: one large GEMM.
  if (b.dim() == 2 && a.dim() > 2) {
    if (auto folded = views::try_reshape(a, {-1, a.shape()[a.dim() - 1]})) {
      Tensor c = matmul_kernel(*folded, b);
      Shape s(a.shape().begin(), a.shape().end() - 1);
      s.push_back(b.shape()[1]);
      return *views::try_reshape(c, s);
    }
  }
  const Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = views::broadcast_shapes(ba, bb, op);
  Shape sa = batch, sb = batch;
  sa.insert(sa.end(), a.shape().end() - 2, a.shape().end());
  sb.insert(sb.end(), b.shape().end() - 2, b.shape().end());
  const DType ct = detail::compute_dtype(a.dtype());
  Tensor ca = views::expand(convert(a, ct), sa), cb = views::expand(convert(b, ct), sb);
  Tensor c = detail::dispatch_compute(ct, [&](auto tag) { return batched_gemm<decltype(tag)>(ca, cb); });
  return c.dtype() == a.dtype() ? c : convert(c, a.dtype());
}

}  // namespace

bool blas_layout(const Tensor& t, MatrixLayout& layout) {
  const int64_t r = t.dim();
  const int64_t rows = t.shape()[r - 2], cols = t.shape()[r - 1];
  const int64_t s0 = t.strides()[r - 2], s1 = t.strides()[r - 1];
  if ((s1 == 1 || cols == 1) && s0 >= std::max<int64_t>(cols, 1)) {
    layout = {false, s0};
    return true;
  }
  if ((s0 == 1 || rows == 1) && s1 >= std::max<int64_t>(rows, 1)) {
    layout = {true, s1};
    return true;
  }
  return false;
}

MatrixLayout as_blas_operand(Tensor& t) {
  MatrixLayout layout;
  if (!blas_layout(t, layout)) {
    t = to_contiguous(t);
    blas_layout(t, layout);
  }
  return layout;
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  detail::check_floating("matmul", a);
  detail::check_floating("matmul", b);
  detail::check_same_dtype("matmul", a, b);
  if (a.dim() == 0 || b.dim() == 0)
    detail::op_error("matmul", "scalar operand: " + shape_str(a.shape()) + " @ " + shape_str(b.shape()));
  if (a.dim() == 1 && b.dim() == 1) return reshape(matmul(unsqueeze(a, 0), unsqueeze(b, 1)), {});  // dot product
  if (a.dim() == 1) return squeeze(matmul(unsqueeze(a, 0), b), -2);
  if (b.dim() == 1) return squeeze(matmul(a, unsqueeze(b, 1)), -1);
  Tensor y = matmul_kernel(a, b);
  autograd::record("matmul", {a, b}, {y}, [a, b](const std::vector<Tensor>& g) {
    std::vector<Tensor> out(2);
    if (a.requires_grad()) out[0] = sum_to_shape(matmul_kernel(g[0], views::transpose(b, -1, -2)), a.shape());
    if (b.requires_grad()) out[1] = sum_to_shape(matmul_kernel(views::transpose(a, -1, -2), g[0]), b.shape());
    return out;
  });
  return y;
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  if (a.dim() != 3 || b.dim() != 3 || a.shape()[0] != b.shape()[0])
    detail::op_error("bmm", "needs [B, m, k] and [B, k, n], got " + shape_str(a.shape()) + " and " + shape_str(b.shape()));
  return matmul(a, b);
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  if (weight.dim() != 2)
    detail::op_error("linear", "weight must be [out, in], got " + shape_str(weight.shape()));
  if (x.dim() == 0 || x.shape()[x.dim() - 1] != weight.shape()[1])
    detail::op_error("linear", "input " + shape_str(x.shape()) + " does not end in in_features " +
                                   std::to_string(weight.shape()[1]) + " of weight " + shape_str(weight.shape()));
  Tensor y = matmul(x, transpose(weight, 0, 1));
  if (bias.defined()) {
    if (bias.dim() != 1 || bias.shape()[0] != weight.shape()[0])
      detail::op_error("linear", "bias " + shape_str(bias.shape()) + " does not match weight " + shape_str(weight.shape()));
    y = add(y, bias);
  }
  return y;
}

}  // namespace emrrg
