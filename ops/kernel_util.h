// Shared helpers of the CPU operator implementations: dtype dispatch for compute types, the
// N-ary broadcasting map, and argument checks with messages that name the op and the shapes.
#pragma once
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "runtime/strided_loop.h"
#include "runtime/tensor.h"
#include "runtime/view.h"

namespace emrrg::detail {

[[noreturn]] inline void op_error(const char* op, const std::string& what) {
  throw std::invalid_argument(std::string(op) + ": " + what);
}

// float32 compute for float32/bfloat16/float16, float64 for float64.
inline DType compute_dtype(DType t) { return t == DType::Float64 ? DType::Float64 : DType::Float32; }

// Any device: an op with no kernel for a device says so where it would run the CPU kernel.
inline void check_floating(const char* op, const Tensor& t) {
  if (!t.defined()) op_error(op, "undefined tensor");
  if (!is_floating(t.dtype())) op_error(op, std::string("needs a floating tensor, got ") + dtype_name(t.dtype()) +
                                                " of shape " + shape_str(t.shape()));
}

inline void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    op_error(op, std::string("dtype mismatch: ") + dtype_name(a.dtype()) + " " + shape_str(a.shape()) + " vs " +
                     dtype_name(b.dtype()) + " " + shape_str(b.shape()));
}

// v rounded to a 16-bit dtype and back (unchanged for float32/float64): where a reference
// rounds an intermediate result to the input's dtype, the CPU kernels do too.
template <typename T> T round_to(DType dtype, T v) {
  if (dtype == DType::BFloat16) return static_cast<T>(static_cast<float>(bfloat16(static_cast<float>(v))));
  if (dtype == DType::Float16) return static_cast<T>(static_cast<float>(float16(static_cast<float>(v))));
  return v;
}

// Calls fn(T{}) with T = float or double according to the compute dtype.
template <typename Fn> decltype(auto) dispatch_compute(DType t, Fn&& fn) {
  if (t == DType::Float64) return fn(double{});
  return fn(float{});
}

// out[i] = f(in0[i], in1[i], ...) over the broadcast shape of the inputs, all of compute type T
// (inputs are converted to T first). Returns a contiguous tensor of dtype Out.
template <typename T, typename Out, size_t N, typename F>
Tensor map_kernel(const char* op, const std::array<Tensor, N>& in, F f) {
  for (const Tensor& t : in)
    if (!t.device().is_cpu()) op_error(op, "no kernel for " + t.device().str() + " (tensor " + t.str() + ")");
  Shape shape = in[0].shape();
  for (size_t k = 1; k < N; ++k) shape = views::broadcast_shapes(shape, in[k].shape(), op);
  std::array<Tensor, N> x;
  for (size_t k = 0; k < N; ++k) x[k] = views::expand(convert(in[k], dtype_of<T>()), shape);
  Tensor out = empty(shape, dtype_of<Out>());
  Out* o = out.data<Out>();
  std::array<const T*, N> p;
  std::array<const Strides*, N + 1> strides;
  std::array<int64_t, N + 1> base{};
  strides[0] = &out.strides();
  for (size_t k = 0; k < N; ++k) {
    p[k] = static_cast<const T*>(x[k].storage()->data());
    strides[k + 1] = &x[k].strides();
    base[k + 1] = x[k].offset();
  }
  strided_for_each<N + 1>(shape, strides, base, [&](const int64_t* off, int64_t n, const int64_t* st) {
    bool unit = st[0] == 1;
    for (size_t k = 0; k < N; ++k) unit = unit && st[k + 1] == 1;
    if (unit) {
      Out* od = o + off[0];
      if constexpr (N == 1) {
        const T* a = p[0] + off[1];
        for (int64_t i = 0; i < n; ++i) od[i] = f(a[i]);
      } else if constexpr (N == 2) {
        const T* a = p[0] + off[1];
        const T* b = p[1] + off[2];
        for (int64_t i = 0; i < n; ++i) od[i] = f(a[i], b[i]);
      } else {
        for (int64_t i = 0; i < n; ++i)
          od[i] = [&]<size_t... K>(std::index_sequence<K...>) { return f(p[K][off[K + 1] + i]...); }(
              std::make_index_sequence<N>{});
      }
    } else {
      for (int64_t i = 0; i < n; ++i)
        o[off[0] + i * st[0]] = [&]<size_t... K>(std::index_sequence<K...>) {
          return f(p[K][off[K + 1] + i * st[K + 1]]...);
        }(std::make_index_sequence<N>{});
    }
  });
  return out;
}

}  // namespace emrrg::detail
