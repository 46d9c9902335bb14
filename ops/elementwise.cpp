#include "ops/elementwise.h"

#include <cmath>

#include "autograd/tape.h"
#include "ops/kernel_util.h"
#include "ops/reduce.h"

namespace emrrg {

namespace {
using detail::check_floating;
using detail::compute_dtype;
using detail::dispatch_compute;
using detail::map_kernel;

Tensor to_dtype(const Tensor& y, DType want) { return y.dtype() == want ? y : convert(y, want); }

// y = f(x); dx = g * d(x, y). F and D are generic lambdas called with float or double.
template <typename F, typename D> Tensor unary_op(const char* name, const Tensor& x, F f, D d) {
  check_floating(name, x);
  Tensor y = dispatch_compute(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return map_kernel<T, T, 1>(name, {x}, [&](T v) { return static_cast<T>(f(v)); });
  });
  y = to_dtype(y, x.dtype());
  autograd::record(name, {x}, {y}, [x, y, d, name](const std::vector<Tensor>& g) {
    Tensor gx = dispatch_compute(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      return map_kernel<T, T, 3>(name, {x, y, g[0]}, [&](T xv, T yv, T gv) { return static_cast<T>(gv * d(xv, yv)); });
    });
    return std::vector<Tensor>{to_dtype(gx, x.dtype())};
  });
  return y;
}

// y = f(a, b) with broadcasting; da, db give the partial derivatives (a, b, y) -> value.
template <typename F, typename DA, typename DB>
Tensor binary_op(const char* name, const Tensor& a, const Tensor& b, F f, DA da, DB db) {
  check_floating(name, a);
  check_floating(name, b);
  detail::check_same_dtype(name, a, b);
  Tensor y = dispatch_compute(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return map_kernel<T, T, 2>(name, {a, b}, [&](T u, T v) { return static_cast<T>(f(u, v)); });
  });
  y = to_dtype(y, a.dtype());
  autograd::record(name, {a, b}, {y}, [a, b, y, da, db, name](const std::vector<Tensor>& g) {
    std::vector<Tensor> out(2);
    dispatch_compute(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if (a.requires_grad()) {
        Tensor ga = map_kernel<T, T, 4>(name, {a, b, y, g[0]},
                                        [&](T u, T v, T w, T gv) { return static_cast<T>(gv * da(u, v, w)); });
        out[0] = to_dtype(sum_to_shape(ga, a.shape()), a.dtype());
      }
      if (b.requires_grad()) {
        Tensor gb = map_kernel<T, T, 4>(name, {a, b, y, g[0]},
                                        [&](T u, T v, T w, T gv) { return static_cast<T>(gv * db(u, v, w)); });
        out[1] = to_dtype(sum_to_shape(gb, b.shape()), b.dtype());
      }
      return 0;
    });
    return out;
  });
  return y;
}

template <typename C> Tensor compare(const char* name, const Tensor& a, const Tensor& b, C c) {
  detail::check_same_dtype(name, a, b);
  const DType ct = is_floating(a.dtype()) ? compute_dtype(a.dtype()) : DType::Float64;
  return dispatch_compute(ct, [&](auto tag) {
    using T = decltype(tag);
    return map_kernel<T, bool, 2>(name, {a, b}, [&](T u, T v) { return c(u, v); });
  });
}

Tensor scalar_like(const Tensor& x, double s) { return scalar_tensor(s, x.dtype()); }

template <typename T> T sigmoid_of(T v) { return T(1) / (T(1) + std::exp(-v)); }
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return binary_op("add", a, b, [](auto u, auto v) { return u + v; }, [](auto, auto, auto) { return 1; },
                   [](auto, auto, auto) { return 1; });
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary_op("sub", a, b, [](auto u, auto v) { return u - v; }, [](auto, auto, auto) { return 1; },
                   [](auto, auto, auto) { return -1; });
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary_op("mul", a, b, [](auto u, auto v) { return u * v; }, [](auto, auto v, auto) { return v; },
                   [](auto u, auto, auto) { return u; });
}
Tensor div(const Tensor& a, const Tensor& b) {
  return binary_op("div", a, b, [](auto u, auto v) { return u / v; }, [](auto, auto v, auto) { return 1 / v; },
                   [](auto, auto v, auto w) { return -w / v; });
}
Tensor pow(const Tensor& a, const Tensor& b) {
  return binary_op(
      "pow", a, b, [](auto u, auto v) { return std::pow(u, v); },
      [](auto u, auto v, auto) { return v * std::pow(u, v - 1); },
      [](auto u, auto, auto w) { return u > 0 ? w * std::log(u) : decltype(u)(0); });
}

Tensor add(const Tensor& a, double s) {
  return unary_op("add_scalar", a, [s](auto v) { return v + s; }, [](auto, auto) { return 1; });
}
Tensor sub(const Tensor& a, double s) { return add(a, -s); }
Tensor mul(const Tensor& a, double s) {
  return unary_op("mul_scalar", a, [s](auto v) { return v * s; }, [s](auto, auto) { return s; });
}
Tensor div(const Tensor& a, double s) { return mul(a, 1.0 / s); }
Tensor pow(const Tensor& a, double e) {
  return unary_op("pow_scalar", a, [e](auto v) { return std::pow(v, static_cast<decltype(v)>(e)); },
                  [e](auto x, auto) { return static_cast<decltype(x)>(e) * std::pow(x, static_cast<decltype(x)>(e - 1)); });
}

Tensor neg(const Tensor& x) {
  return unary_op("neg", x, [](auto v) { return -v; }, [](auto, auto) { return -1; });
}
Tensor exp(const Tensor& x) {
  return unary_op("exp", x, [](auto v) { return std::exp(v); }, [](auto, auto y) { return y; });
}
Tensor log(const Tensor& x) {
  return unary_op("log", x, [](auto v) { return std::log(v); }, [](auto v, auto) { return 1 / v; });
}
Tensor sqrt(const Tensor& x) {
  return unary_op("sqrt", x, [](auto v) { return std::sqrt(v); }, [](auto, auto y) { return 0.5 / y; });
}
Tensor rsqrt(const Tensor& x) {
  return unary_op("rsqrt", x, [](auto v) { return 1 / std::sqrt(v); },
                  [](auto v, auto y) { return -0.5 * y / v; });
}
Tensor abs(const Tensor& x) {
  return unary_op("abs", x, [](auto v) { return std::abs(v); },
                  [](auto v, auto) { return v > 0 ? 1 : (v < 0 ? -1 : 0); });
}
Tensor clamp(const Tensor& x, double lo, double hi) {
  if (lo > hi) detail::op_error("clamp", "lo " + std::to_string(lo) + " > hi " + std::to_string(hi));
  return unary_op("clamp", x, [lo, hi](auto v) { return v < lo ? lo : (v > hi ? hi : v); },
                  [lo, hi](auto v, auto) { return (v >= lo && v <= hi) ? 1 : 0; });
}
Tensor sigmoid(const Tensor& x) {
  return unary_op("sigmoid", x, [](auto v) { return sigmoid_of(v); }, [](auto, auto y) { return y * (1 - y); });
}
Tensor tanh(const Tensor& x) {
  return unary_op("tanh", x, [](auto v) { return std::tanh(v); }, [](auto, auto y) { return 1 - y * y; });
}
Tensor silu(const Tensor& x) {
  return unary_op("silu", x, [](auto v) { return v * sigmoid_of(v); },
                  [](auto v, auto) {
                    const auto s = sigmoid_of(v);
                    return s * (1 + v * (1 - s));
                  });
}
Tensor gelu(const Tensor& x, GeluApproximation approximation) {
  if (approximation == GeluApproximation::Tanh) {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    return unary_op(
        "gelu_tanh", x,
        [](auto v) {
          using T = decltype(v);
          const T k = static_cast<T>(0.7978845608028654);
          return static_cast<T>(0.5) * v * (1 + std::tanh(k * (v + static_cast<T>(0.044715) * v * v * v)));
        },
        [](auto v, auto) {
          using T = decltype(v);
          const T k = static_cast<T>(0.7978845608028654);
          const T inner = k * (v + static_cast<T>(0.044715) * v * v * v);
          const T t = std::tanh(inner);
          return static_cast<T>(0.5) * (1 + t) +
                 static_cast<T>(0.5) * v * (1 - t * t) * k * (1 + 3 * static_cast<T>(0.044715) * v * v);
        });
  }
  return unary_op(
      "gelu", x,
      [](auto v) {
        using T = decltype(v);
        return static_cast<T>(0.5) * v * (1 + std::erf(v * static_cast<T>(0.7071067811865476)));
      },
      [](auto v, auto) {
        using T = decltype(v);
        const T cdf = static_cast<T>(0.5) * (1 + std::erf(v * static_cast<T>(0.7071067811865476)));
        const T pdf = std::exp(static_cast<T>(-0.5) * v * v) * static_cast<T>(0.3989422804014327);
        return cdf + v * pdf;
      });
}
Tensor softplus(const Tensor& x, double beta, double threshold) {
  return unary_op(
      "softplus", x,
      [beta, threshold](auto v) {
        using T = decltype(v);
        const T bv = static_cast<T>(beta) * v;
        return bv > threshold ? v : static_cast<T>(std::log1p(std::exp(bv)) / beta);
      },
      [beta, threshold](auto v, auto) {
        using T = decltype(v);
        const T bv = static_cast<T>(beta) * v;
        return bv > threshold ? T(1) : sigmoid_of(bv);
      });
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
