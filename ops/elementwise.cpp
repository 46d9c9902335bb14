#include "ops/elementwise.h"

#include <cmath>

#include "autograd/tape.h"
#include "ops/device_kernels.h"
#include "ops/kernel_util.h"
#include "ops/reduce.h"

namespace emrrg {

namespace {
using detail::check_floating;
using detail::compute_dtype;
using detail::dispatch_compute;
using detail::map_kernel;

Tensor to_dtype(const Tensor& y, DType want) { return y.dtype() == want ? y : convert(y, want); }


// The arithmetic of the elementwise ops: CPU kernels here, device kernels through the table.
Tensor unary_kernel(UnaryOp op, const Tensor& x, double a, double b) {
  if (!x.device().is_cpu()) return device_kernel(unary_op_name(op), x, &DeviceKernels::unary)(op, x, a, b);
  Tensor y = dispatch_compute(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return dispatch_unary(op, [&](auto code) {
      return map_kernel<T, T, 1>(unary_op_name(op), {x}, [&](T v) {
        return scalar::unary<decltype(code)::value, T>(v, static_cast<T>(a), static_cast<T>(b));
      });
    });
  });
  return to_dtype(y, x.dtype());
}

Tensor unary_backward_kernel(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& g, double a, double b) {
  if (!x.device().is_cpu())
    return device_kernel(unary_op_name(op), x, &DeviceKernels::unary_backward)(op, x, y, g, a, b);
  Tensor gx = dispatch_compute(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return dispatch_unary(op, [&](auto code) {
      return map_kernel<T, T, 3>(unary_op_name(op), {x, y, g}, [&](T xv, T yv, T gv) {
        return gv * scalar::unary_derivative<decltype(code)::value, T>(xv, yv, static_cast<T>(a), static_cast<T>(b));
      });
    });
  });
  return to_dtype(gx, x.dtype());
}

Tensor binary_kernel(BinaryOp op, const Tensor& a, const Tensor& b) {
  if (!a.device().is_cpu()) return device_kernel(binary_op_name(op), a, &DeviceKernels::binary)(op, a, b);
  Tensor y = dispatch_compute(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return dispatch_binary(op, [&](auto code) {
      return map_kernel<T, T, 2>(binary_op_name(op), {a, b},
                                 [](T u, T v) { return scalar::binary<decltype(code)::value, T>(u, v); });
    });
  });
  return to_dtype(y, a.dtype());
}

// g * d op / d(a or b) in the broadcast shape.
Tensor binary_backward_kernel(BinaryOp op, bool wrt_b, const Tensor& a, const Tensor& b, const Tensor& y,
                              const Tensor& g) {
  if (!a.device().is_cpu())
    return device_kernel(binary_op_name(op), a, &DeviceKernels::binary_backward)(op, wrt_b, a, b, y, g);
  Tensor d = dispatch_compute(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return dispatch_binary(op, [&](auto code) {
      constexpr BinaryOp OP = decltype(code)::value;
      return map_kernel<T, T, 4>(binary_op_name(op), {a, b, y, g}, [wrt_b](T u, T v, T w, T gv) {
        return gv * (wrt_b ? scalar::binary_dv<OP, T>(u, v, w) : scalar::binary_du<OP, T>(u, v, w));
      });
    });
  });
  return to_dtype(d, a.dtype());
}

// y = op(x) with parameters a, b; dx = g * op'(x, y).
Tensor unary_op(UnaryOp op, const Tensor& x, double a = 0, double b = 0) {
  check_floating(unary_op_name(op), x);
  Tensor y = unary_kernel(op, x, a, b);
  autograd::record(unary_op_name(op), {x}, {y}, [op, x, y, a, b](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{unary_backward_kernel(op, x, y, g[0], a, b)};
  });
  return y;
}

Tensor binary_op(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_op_name(op);
  check_floating(name, a);
  check_floating(name, b);
  detail::check_same_dtype(name, a, b);
  if (a.device() != b.device())
    detail::op_error(name, "operands on " + a.device().str() + " and " + b.device().str());
  Tensor y = binary_kernel(op, a, b);
  autograd::record(name, {a, b}, {y}, [op, a, b, y](const std::vector<Tensor>& g) {
    std::vector<Tensor> out(2);
    if (a.requires_grad()) out[0] = sum_to_shape(binary_backward_kernel(op, false, a, b, y, g[0]), a.shape());
    if (b.requires_grad()) out[1] = sum_to_shape(binary_backward_kernel(op, true, a, b, y, g[0]), b.shape());
    return out;
  });
  return y;
}

template <typename C> Tensor compare(const char* name, const Tensor& a, const Tensor& b, C c) {
  detail::check_same_dtype(name, a, b);
  for (const Tensor* t : {&a, &b})
    if (!t->device().is_cpu()) no_device_kernel(name, *t);
  const DType ct = is_floating(a.dtype()) ? compute_dtype(a.dtype()) : DType::Float64;
  return dispatch_compute(ct, [&](auto tag) {
    using T = decltype(tag);
    return map_kernel<T, bool, 2>(name, {a, b}, [&](T u, T v) { return c(u, v); });
  });
}

Tensor scalar_like(const Tensor& x, double s) { return scalar_tensor(s, x.dtype()); }
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Div, a, b); }
Tensor pow(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Pow, a, b); }
Tensor add(const Tensor& a, double s) { return unary_op(UnaryOp::AddScalar, a, s); }
Tensor sub(const Tensor& a, double s) { return add(a, -s); }
Tensor mul(const Tensor& a, double s) { return unary_op(UnaryOp::MulScalar, a, s); }
Tensor div(const Tensor& a, double s) { return mul(a, 1.0 / s); }
Tensor pow(const Tensor& a, double e) { return unary_op(UnaryOp::PowScalar, a, e); }
Tensor neg(const Tensor& x) { return unary_op(UnaryOp::Neg, x); }
Tensor exp(const Tensor& x) { return unary_op(UnaryOp::Exp, x); }
Tensor log(const Tensor& x) { return unary_op(UnaryOp::Log, x); }
Tensor sqrt(const Tensor& x) { return unary_op(UnaryOp::Sqrt, x); }
Tensor rsqrt(const Tensor& x) { return unary_op(UnaryOp::Rsqrt, x); }
Tensor abs(const Tensor& x) { return unary_op(UnaryOp::Abs, x); }
Tensor clamp(const Tensor& x, double lo, double hi) {
  if (lo > hi) detail::op_error("clamp", "lo " + std::to_string(lo) + " > hi " + std::to_string(hi));
  return unary_op(UnaryOp::Clamp, x, lo, hi);
}
Tensor sigmoid(const Tensor& x) { return unary_op(UnaryOp::Sigmoid, x); }
Tensor tanh(const Tensor& x) { return unary_op(UnaryOp::Tanh, x); }
Tensor silu(const Tensor& x) { return unary_op(UnaryOp::Silu, x); }
Tensor gelu(const Tensor& x, GeluApproximation approximation) {
  return unary_op(approximation == GeluApproximation::Tanh ? UnaryOp::GeluTanh : UnaryOp::Gelu, x);
}
Tensor softplus(const Tensor& x, double beta, double threshold) {
  return unary_op(UnaryOp::Softplus, x, beta, threshold);
}

Tensor eq(const Tensor& a, const Tensor& b) { return compare("eq", a, b, [](auto u, auto v) { return u == v; }); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare("ne", a, b, [](auto u, auto v) { return u != v; }); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare("lt", a, b, [](auto u, auto v) { return u < v; }); }
Tensor le(const Tensor& a, const Tensor& b) { return compare("le", a, b, [](auto u, auto v) { return u <= v; }); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare("gt", a, b, [](auto u, auto v) { return u > v; }); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare("ge", a, b, [](auto u, auto v) { return u >= v; }); }
Tensor gt(const Tensor& a, double s) { return gt(a, scalar_like(a, s)); }
Tensor lt(const Tensor& a, double s) { return lt(a, scalar_like(a, s)); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  if (cond.dtype() != DType::Bool)
    detail::op_error("where", std::string("condition must be bool, got ") + dtype_name(cond.dtype()));
  check_floating("where", a);
  check_floating("where", b);
  detail::check_same_dtype("where", a, b);
  Tensor y = dispatch_compute(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Tensor c = convert(cond, dtype_of<T>());
    return map_kernel<T, T, 3>("where", {c, a, b}, [](T cv, T u, T v) { return cv != 0 ? u : v; });
  });
  y = to_dtype(y, a.dtype());
  autograd::record("where", {cond, a, b}, {y}, [cond, a, b](const std::vector<Tensor>& g) {
    Tensor z = zeros({}, g[0].dtype());
    std::vector<Tensor> out(3);
    if (a.requires_grad()) out[1] = sum_to_shape(where(cond, g[0], z), a.shape());
    if (b.requires_grad()) out[2] = sum_to_shape(where(cond, z, g[0]), b.shape());
    return out;
  });
  return y;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  if (mask.dtype() != DType::Bool)
    detail::op_error("masked_fill", std::string("mask must be bool, got ") + dtype_name(mask.dtype()));
  check_floating("masked_fill", x);
  Shape bs = views::broadcast_shapes(x.shape(), mask.shape(), "masked_fill");
  if (bs != x.shape())
    detail::op_error("masked_fill", "mask " + shape_str(mask.shape()) + " does not broadcast to " + shape_str(x.shape()));
  Tensor y = dispatch_compute(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Tensor m = convert(mask, dtype_of<T>());
    const T v = static_cast<T>(value);
    return map_kernel<T, T, 2>("masked_fill", {x, m}, [v](T u, T mv) { return mv != 0 ? v : u; });
  });
  y = to_dtype(y, x.dtype());
  autograd::record("masked_fill", {x}, {y}, [mask](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{masked_fill(g[0], mask, 0.0)};
  });
  return y;
}

}  // namespace emrrg
