// The per-element maths of the elementwise operators, shared by the CPU kernels and the CUDA
// kernels (compiled for the device by nvcc) so both compute exactly the same functions.
// Each op is a compile-time constant; `a` and `b` carry its scalar parameters (the scalar of
// add/mul/pow, softplus' beta and threshold, clamp's bounds).
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#if defined(__CUDACC__)
#define EMRRG_HD __host__ __device__ __forceinline__
#else
#define EMRRG_HD inline
#endif

namespace emrrg {

enum class UnaryOp : uint8_t {
  Neg, Exp, Log, Sqrt, Rsqrt, Abs, Sigmoid, Tanh, Silu, Gelu, GeluTanh, Softplus, AddScalar, MulScalar, PowScalar, Clamp
};
enum class BinaryOp : uint8_t { Add, Sub, Mul, Div, Pow };

namespace scalar {

template <typename T> EMRRG_HD T sigmoid(T v) { return T(1) / (T(1) + std::exp(-v)); }

constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kInvSqrt2 = 0.7071067811865476;
constexpr double kInvSqrt2Pi = 0.3989422804014327;
constexpr double kGeluCubic = 0.044715;

template <UnaryOp OP, typename T> EMRRG_HD T unary(T x, T a, T b) {
  if constexpr (OP == UnaryOp::Neg) return -x;
  else if constexpr (OP == UnaryOp::Exp) return std::exp(x);
  else if constexpr (OP == UnaryOp::Log) return std::log(x);
  else if constexpr (OP == UnaryOp::Sqrt) return std::sqrt(x);
  else if constexpr (OP == UnaryOp::Rsqrt) return T(1) / std::sqrt(x);
  else if constexpr (OP == UnaryOp::Abs) return std::abs(x);
  else if constexpr (OP == UnaryOp::Sigmoid) return sigmoid(x);
  else if constexpr (OP == UnaryOp::Tanh) return std::tanh(x);
  else if constexpr (OP == UnaryOp::Silu) return x * sigmoid(x);
  else if constexpr (OP == UnaryOp::Gelu) return T(0.5) * x * (T(1) + std::erf(x * T(kInvSqrt2)));
  else if constexpr (OP == UnaryOp::GeluTanh)
    return T(0.5) * x * (T(1) + std::tanh(T(kSqrt2OverPi) * (x + T(kGeluCubic) * x * x * x)));
  else if constexpr (OP == UnaryOp::Softplus) return a * x > b ? x : std::log1p(std::exp(a * x)) / a;
  else if constexpr (OP == UnaryOp::AddScalar) return x + a;
  else if constexpr (OP == UnaryOp::MulScalar) return x * a;
  else if constexpr (OP == UnaryOp::PowScalar) return std::pow(x, a);
  else return x < a ? a : (x > b ? b : x);  // Clamp
}

// dy/dx given x and y = unary(x).
template <UnaryOp OP, typename T> EMRRG_HD T unary_derivative(T x, T y, T a, T b) {
  if constexpr (OP == UnaryOp::Neg) return T(-1);
  else if constexpr (OP == UnaryOp::Exp) return y;
  else if constexpr (OP == UnaryOp::Log) return T(1) / x;
  else if constexpr (OP == UnaryOp::Sqrt) return T(0.5) / y;
  else if constexpr (OP == UnaryOp::Rsqrt) return T(-0.5) * y / x;
  else if constexpr (OP == UnaryOp::Abs) return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
  else if constexpr (OP == UnaryOp::Sigmoid) return y * (T(1) - y);
  else if constexpr (OP == UnaryOp::Tanh) return T(1) - y * y;
  else if constexpr (OP == UnaryOp::Silu) {
    const T s = sigmoid(x);
    return s * (T(1) + x * (T(1) - s));
  } else if constexpr (OP == UnaryOp::Gelu) {
    const T cdf = T(0.5) * (T(1) + std::erf(x * T(kInvSqrt2)));
    return cdf + x * std::exp(T(-0.5) * x * x) * T(kInvSqrt2Pi);
  } else if constexpr (OP == UnaryOp::GeluTanh) {
    const T k = T(kSqrt2OverPi);
    const T t = std::tanh(k * (x + T(kGeluCubic) * x * x * x));
    return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * k * (T(1) + T(3 * kGeluCubic) * x * x);
  } else if constexpr (OP == UnaryOp::Softplus) return a * x > b ? T(1) : sigmoid(a * x);
  else if constexpr (OP == UnaryOp::AddScalar) return T(1);
  else if constexpr (OP == UnaryOp::MulScalar) return a;
  else if constexpr (OP == UnaryOp::PowScalar) return a * std::pow(x, a - T(1));
  else return (x >= a && x <= b) ? T(1) : T(0);  // Clamp: PyTorch passes the gradient at the bounds
}

template <BinaryOp OP, typename T> EMRRG_HD T binary(T u, T v) {
  if constexpr (OP == BinaryOp::Add) return u + v;
  else if constexpr (OP == BinaryOp::Sub) return u - v;
  else if constexpr (OP == BinaryOp::Mul) return u * v;
  else if constexpr (OP == BinaryOp::Div) return u / v;
  else return std::pow(u, v);
}

// d binary / d u and d binary / d v, given u, v and w = binary(u, v).
template <BinaryOp OP, typename T> EMRRG_HD T binary_du(T u, T v, T) {
  if constexpr (OP == BinaryOp::Add || OP == BinaryOp::Sub) return T(1);
  else if constexpr (OP == BinaryOp::Mul) return v;
  else if constexpr (OP == BinaryOp::Div) return T(1) / v;
  else return v * std::pow(u, v - T(1));
}
template <BinaryOp OP, typename T> EMRRG_HD T binary_dv(T u, T v, T w) {
  if constexpr (OP == BinaryOp::Add) return T(1);
  else if constexpr (OP == BinaryOp::Sub) return T(-1);
  else if constexpr (OP == BinaryOp::Mul) return u;
  else if constexpr (OP == BinaryOp::Div) return -w / v;
  else return u > T(0) ? w * std::log(u) : T(0);
}

}  // namespace scalar

// Calls fn(std::integral_constant<UnaryOp, op>{}) so the op becomes a template argument.
template <typename Fn> decltype(auto) dispatch_unary(UnaryOp op, Fn&& fn) {
#define EMRRG_UNARY_CASE(name) \
  case UnaryOp::name: return fn(std::integral_constant<UnaryOp, UnaryOp::name>{});
  switch (op) {
    EMRRG_UNARY_CASE(Neg) EMRRG_UNARY_CASE(Exp) EMRRG_UNARY_CASE(Log) EMRRG_UNARY_CASE(Sqrt)
    EMRRG_UNARY_CASE(Rsqrt) EMRRG_UNARY_CASE(Abs) EMRRG_UNARY_CASE(Sigmoid) EMRRG_UNARY_CASE(Tanh)
    EMRRG_UNARY_CASE(Silu) EMRRG_UNARY_CASE(Gelu) EMRRG_UNARY_CASE(GeluTanh) EMRRG_UNARY_CASE(Softplus)
    EMRRG_UNARY_CASE(AddScalar) EMRRG_UNARY_CASE(MulScalar) EMRRG_UNARY_CASE(PowScalar)
    default: break;
  }
#undef EMRRG_UNARY_CASE
  return fn(std::integral_constant<UnaryOp, UnaryOp::Clamp>{});
}

template <typename Fn> decltype(auto) dispatch_binary(BinaryOp op, Fn&& fn) {
  switch (op) {
    case BinaryOp::Add: return fn(std::integral_constant<BinaryOp, BinaryOp::Add>{});
    case BinaryOp::Sub: return fn(std::integral_constant<BinaryOp, BinaryOp::Sub>{});
    case BinaryOp::Mul: return fn(std::integral_constant<BinaryOp, BinaryOp::Mul>{});
    case BinaryOp::Div: return fn(std::integral_constant<BinaryOp, BinaryOp::Div>{});
    default: break;
  }
  return fn(std::integral_constant<BinaryOp, BinaryOp::Pow>{});
}

const char* unary_op_name(UnaryOp op);
const char* binary_op_name(BinaryOp op);

}  // namespace emrrg
