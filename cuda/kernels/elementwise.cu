// Elementwise kernels with NumPy broadcasting, a row-sum reduction, and the runtime's strided
// copy / accumulate / fill on the device. CPU references: ops/elementwise.cpp, ops/reduce.cpp,
// runtime/tensor.cpp. The per-element maths is ops/scalar_math.h, shared with the CPU.
#include "cuda/kernels/elementwise.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "cuda/kernels/row_reduce.h"
#include "cuda/kernels/storage.h"
#include "cuda/launch.h"
#include "runtime/coalesce.h"
#include "runtime/view.h"

namespace emrrg::cuda {

namespace {

constexpr int kMaxDims = 8;

// Shape and per-operand strides/offsets after coalescing; operand 0 is the output.
template <int N> struct Geometry {
  int nd;
  int64_t numel;
  int64_t shape[kMaxDims];
  int64_t strides[N][kMaxDims];
  int64_t offsets[N];
  bool contiguous;  // one dim of stride 1 for every operand: element i is at offsets[k] + i
};

template <int N> Geometry<N> make_geometry(const char* op, const std::array<Tensor, N>& t) {
  std::array<const std::vector<int64_t>*, N> st;
  for (int k = 0; k < N; ++k) st[k] = &t[k].strides();
  const StridedLayout<N> L = coalesce<N>(t[0].shape(), st);
  if (L.shape.size() > kMaxDims)
    throw std::invalid_argument(std::string(op) + ": more than " + std::to_string(kMaxDims) +
                                " non-mergeable dims in shape " + shape_str(t[0].shape()));
  Geometry<N> g{};
  g.nd = static_cast<int>(L.shape.size());
  g.numel = L.numel;
  g.contiguous = true;
  for (int d = 0; d < g.nd; ++d) {
    g.shape[d] = L.shape[d];
    for (int k = 0; k < N; ++k) g.strides[k][d] = L.strides[d][k];
  }
  for (int k = 0; k < N; ++k) {
    g.offsets[k] = t[k].offset();
    if (g.nd != 1 || g.strides[k][0] != 1) g.contiguous = false;
  }
  return g;
}

template <int N> __device__ __forceinline__ void offsets_of(const Geometry<N>& g, int64_t i, int64_t (&off)[N]) {
  if (g.contiguous) {
    for (int k = 0; k < N; ++k) off[k] = g.offsets[k] + i;
    return;
  }
  for (int k = 0; k < N; ++k) off[k] = g.offsets[k];
  for (int d = g.nd - 1; d >= 0; --d) {
    const int64_t c = i % g.shape[d];
    i /= g.shape[d];
    for (int k = 0; k < N; ++k) off[k] += c * g.strides[k][d];
  }
}

using storage::check_cuda_floating;
using storage::dispatch_storage;
using storage::grid_for;
using storage::kBlock;
using storage::load;
using storage::to_storage;

#define EMRRG_GRID_STRIDE(i, n) \
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < (n); i += int64_t{gridDim.x} * blockDim.x)

// out[i] = op(x[i])                                       out, x: [numel] after broadcasting
template <UnaryOp OP, typename S> __global__ void unary_forward_kernel(Geometry<2> g, S* out, const S* x, float a, float b) {
  EMRRG_GRID_STRIDE(i, g.numel) {
    int64_t off[2];
    offsets_of(g, i, off);
    out[off[0]] = to_storage<S>(scalar::unary<OP, float>(load(x + off[1]), a, b));
  }
}

// Four floats per thread with 16-byte loads and stores (contiguous, aligned float32 only).
template <UnaryOp OP> __global__ void unary_forward_vec4_kernel(float4* out, const float4* x, int64_t n4, float a, float b) {
  EMRRG_GRID_STRIDE(i, n4) {
    const float4 v = x[i];
    out[i] = make_float4(scalar::unary<OP, float>(v.x, a, b), scalar::unary<OP, float>(v.y, a, b),
                         scalar::unary<OP, float>(v.z, a, b), scalar::unary<OP, float>(v.w, a, b));
  }
}

// gx[i] = g[i] * op'(x[i], y[i])
template <UnaryOp OP, typename S>
__global__ void unary_backward_kernel(Geometry<4> g, S* gx, const S* x, const S* y, const S* gy, float a, float b) {
  EMRRG_GRID_STRIDE(i, g.numel) {
    int64_t off[4];
    offsets_of(g, i, off);
    const float d = scalar::unary_derivative<OP, float>(load(x + off[1]), load(y + off[2]), a, b);
    gx[off[0]] = to_storage<S>(load(gy + off[3]) * d);
  }
}

// out[i] = op(a[i], b[i])                                  broadcast shape
template <BinaryOp OP, typename S> __global__ void binary_forward_kernel(Geometry<3> g, S* out, const S* a, const S* b) {
  EMRRG_GRID_STRIDE(i, g.numel) {
    int64_t off[3];
    offsets_of(g, i, off);
    out[off[0]] = to_storage<S>(scalar::binary<OP, float>(load(a + off[1]), load(b + off[2])));
  }
}

// d[i] = g[i] * d op / d(a or b) at (a[i], b[i], y[i])     broadcast shape
template <BinaryOp OP, typename S>
__global__ void binary_backward_kernel(Geometry<5> g, S* d, const S* a, const S* b, const S* y, const S* gy, bool wrt_b) {
  EMRRG_GRID_STRIDE(i, g.numel) {
    int64_t off[5];
    offsets_of(g, i, off);
    const float u = load(a + off[1]), v = load(b + off[2]), w = load(y + off[3]);
    const float partial = wrt_b ? scalar::binary_dv<OP, float>(u, v, w) : scalar::binary_du<OP, float>(u, v, w);
    d[off[0]] = to_storage<S>(load(gy + off[4]) * partial);
  }
}

// out[r] = sum_j x[r, j] in float32: one block per row, each thread a strided partial sum,
// then the block reduction of cuda/kernels/row_reduce.h.    x: [rows, n], out: [rows]
template <typename S> __global__ void sum_rows_kernel(const S* x, S* out, int64_t rows, int64_t n) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    float acc = 0.0f;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) acc += load(x + r * n + j);
    acc = rows::block_reduce(acc, rows::Sum{}, 0.0f);
    if (threadIdx.x == 0) out[r] = to_storage<S>(acc);
  }
}

// dst[i] = convert(src[i]) between floating dtypes, or a raw element copy for equal dtypes.
template <typename D, typename S> __global__ void copy_kernel(Geometry<2> g, D* dst, const S* src) {
  EMRRG_GRID_STRIDE(i, g.numel) {
    int64_t off[2];
    offsets_of(g, i, off);
    if constexpr (std::is_same_v<D, S>) dst[off[0]] = src[off[1]];
    else if constexpr (std::is_same_v<D, double>) dst[off[0]] = static_cast<double>(load(src + off[1]));
    else if constexpr (std::is_same_v<S, double>) dst[off[0]] = to_storage<D>(static_cast<float>(src[off[1]]));
    else dst[off[0]] = to_storage<D>(load(src + off[1]));
  }
}

template <typename S> __global__ void add_into_kernel(Geometry<2> g, S* dst, const S* src) {
  EMRRG_GRID_STRIDE(i, g.numel) {
    int64_t off[2];
    offsets_of(g, i, off);
    dst[off[0]] = to_storage<S>(load(dst + off[0]) + load(src + off[1]));
  }
}

template <typename S> __global__ void fill_kernel(Geometry<1> g, S* dst, S value) {
  EMRRG_GRID_STRIDE(i, g.numel) {
    int64_t off[1];
    offsets_of(g, i, off);
    dst[off[0]] = value;
  }
}

// Kernels here index from the storage's start (offsets live in the Geometry).
template <typename S> S* base_ptr(const Tensor& t) { return static_cast<S*>(t.storage()->data()); }

}  // namespace

Tensor unary(UnaryOp op, const Tensor& x, double a, double b) {
  const char* name = unary_op_name(op);
  check_cuda_floating(name, x);
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  if (out.numel() == 0) return out;
  const float fa = static_cast<float>(a), fb = static_cast<float>(b);
  const Geometry<2> g = make_geometry<2>(name, {out, x});
  dispatch_unary(op, [&](auto code) {
    constexpr UnaryOp OP = decltype(code)::value;
    const bool aligned = reinterpret_cast<uintptr_t>(x.raw_data()) % 16 == 0 && out.numel() % 4 == 0;
    if (x.dtype() == DType::Float32 && g.contiguous && aligned) {
      const int64_t n4 = out.numel() / 4;
      EMRRG_LAUNCH(unary_forward_vec4_kernel<OP>, dim3(grid_for(n4)), dim3(kBlock), 0, nullptr,
                   static_cast<float4*>(out.raw_data()), static_cast<const float4*>(x.raw_data()), n4, fa, fb);
      return;
    }
    dispatch_storage(x.dtype(), [&](auto s) {
      using S = decltype(s);
      EMRRG_LAUNCH((unary_forward_kernel<OP, S>), dim3(grid_for(g.numel)), dim3(kBlock), 0, nullptr, g, base_ptr<S>(out),
                   base_ptr<S>(x), fa, fb);
    });
  });
  return out;
}

Tensor unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy, double a, double b) {
  const char* name = unary_op_name(op);
  check_cuda_floating(name, x);
  Tensor gx = empty(x.shape(), x.dtype(), x.device());
  if (gx.numel() == 0) return gx;
  Tensor gc = convert(gy, x.dtype());
  const Geometry<4> g = make_geometry<4>(name, {gx, x, y, gc});
  dispatch_unary(op, [&](auto code) {
    constexpr UnaryOp OP = decltype(code)::value;
    dispatch_storage(x.dtype(), [&](auto s) {
      using S = decltype(s);
      EMRRG_LAUNCH((unary_backward_kernel<OP, S>), dim3(grid_for(g.numel)), dim3(kBlock), 0, nullptr, g, base_ptr<S>(gx),
                   base_ptr<S>(x), base_ptr<S>(y), base_ptr<S>(gc), static_cast<float>(a), static_cast<float>(b));
    });
  });
  return gx;
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_op_name(op);
  check_cuda_floating(name, a);
  const Shape shape = views::broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = empty(shape, a.dtype(), a.device());
  if (out.numel() == 0) return out;
  const Geometry<3> g = make_geometry<3>(name, {out, views::expand(a, shape), views::expand(b, shape)});
  dispatch_binary(op, [&](auto code) {
    constexpr BinaryOp OP = decltype(code)::value;
    dispatch_storage(a.dtype(), [&](auto s) {
      using S = decltype(s);
      EMRRG_LAUNCH((binary_forward_kernel<OP, S>), dim3(grid_for(g.numel)), dim3(kBlock), 0, nullptr, g, base_ptr<S>(out),
                   base_ptr<S>(a), base_ptr<S>(b));
    });
  });
  return out;
}

Tensor binary_backward(BinaryOp op, bool wrt_b, const Tensor& a, const Tensor& b, const Tensor& y, const Tensor& gy) {
  const char* name = binary_op_name(op);
  check_cuda_floating(name, a);
  const Shape& shape = y.shape();
  Tensor d = empty(shape, a.dtype(), a.device());
  if (d.numel() == 0) return d;
  Tensor gc = convert(gy, a.dtype());
  const Geometry<5> g =
      make_geometry<5>(name, {d, views::expand(a, shape), views::expand(b, shape), y, views::expand(gc, shape)});
  dispatch_binary(op, [&](auto code) {
    constexpr BinaryOp OP = decltype(code)::value;
    dispatch_storage(a.dtype(), [&](auto s) {
      using S = decltype(s);
      EMRRG_LAUNCH((binary_backward_kernel<OP, S>), dim3(grid_for(g.numel)), dim3(kBlock), 0, nullptr, g, base_ptr<S>(d),
                   base_ptr<S>(a), base_ptr<S>(b), base_ptr<S>(y), base_ptr<S>(gc), wrt_b);
    });
  });
  return d;
}

Tensor sum_rows(const Tensor& x) {
  check_cuda_floating("sum", x);
  if (x.dim() != 2 || !x.is_contiguous()) throw std::invalid_argument("sum_rows: needs a contiguous [rows, n], got " + x.str());
  const int64_t rows = x.shape()[0], n = x.shape()[1];
  Tensor out = empty({rows}, x.dtype(), x.device());
  if (rows == 0) return out;
  dispatch_storage(x.dtype(), [&](auto s) {
    using S = decltype(s);
    const unsigned grid = static_cast<unsigned>(std::min<int64_t>(rows, 65535));
    // Short rows get one warp, long rows a full block (spreading a row over many threads keeps
    // each thread's serial float sum short).
    const unsigned threads = static_cast<unsigned>(std::clamp<int64_t>((n + 31) / 32 * 32, 32, kBlock));
    EMRRG_LAUNCH(sum_rows_kernel<S>, dim3(grid), dim3(threads), 0, nullptr, static_cast<const S*>(x.raw_data()),
                 base_ptr<S>(out), rows, n);
  });
  return out;
}

namespace {
template <typename D> void copy_from(const Geometry<2>& g, const Tensor& dst, const Tensor& src) {
  auto launch = [&](auto s) {
    using S = decltype(s);
    EMRRG_LAUNCH((copy_kernel<D, S>), dim3(grid_for(g.numel)), dim3(kBlock), 0, nullptr, g, base_ptr<D>(dst), base_ptr<S>(src));
  };
  switch (src.dtype()) {
    case DType::Float32: launch(float{}); break;
    case DType::BFloat16: launch(__nv_bfloat16{}); break;
    case DType::Float16: launch(__half{}); break;
    case DType::Float64: launch(double{}); break;
    default: throw std::invalid_argument("copy: no CUDA conversion from " + src.str() + " to " + dst.str());
  }
}

// Same-dtype copies move raw elements of the same size.
template <typename E> void copy_raw(const Geometry<2>& g, const Tensor& dst, const Tensor& src) {
  EMRRG_LAUNCH((copy_kernel<E, E>), dim3(grid_for(g.numel)), dim3(kBlock), 0, nullptr, g, base_ptr<E>(dst), base_ptr<E>(src));
}
template <typename E> void fill_as(const Geometry<1>& g, const Tensor& t, const Tensor& one) {
  E bits;
  std::memcpy(&bits, one.raw_data(), sizeof(E));
  EMRRG_LAUNCH(fill_kernel<E>, dim3(grid_for(g.numel)), dim3(kBlock), 0, nullptr, g, base_ptr<E>(t), bits);
}
}  // namespace

void copy(const Tensor& dst, const Tensor& src) {
  if (dst.numel() == 0) return;
  const Geometry<2> g = make_geometry<2>("copy", {dst, src});
  if (dst.dtype() == src.dtype()) {
    switch (dst.element_size()) {
      case 1: copy_raw<uint8_t>(g, dst, src); return;
      case 2: copy_raw<uint16_t>(g, dst, src); return;
      case 4: copy_raw<uint32_t>(g, dst, src); return;
      default: copy_raw<uint64_t>(g, dst, src); return;
    }
  }
  switch (dst.dtype()) {
    case DType::Float32: copy_from<float>(g, dst, src); return;
    case DType::BFloat16: copy_from<__nv_bfloat16>(g, dst, src); return;
    case DType::Float16: copy_from<__half>(g, dst, src); return;
    case DType::Float64: copy_from<double>(g, dst, src); return;
    default: throw std::invalid_argument("copy: no CUDA conversion from " + src.str() + " to " + dst.str());
  }
}

void add_into(const Tensor& dst, const Tensor& src) {
  check_cuda_floating("add_into", dst);
  if (dst.numel() == 0) return;
  Tensor s = convert(src, dst.dtype());
  const Geometry<2> g = make_geometry<2>("add_into", {dst, s});
  dispatch_storage(dst.dtype(), [&](auto st) {
    using S = decltype(st);
    EMRRG_LAUNCH(add_into_kernel<S>, dim3(grid_for(g.numel)), dim3(kBlock), 0, nullptr, g, base_ptr<S>(dst), base_ptr<S>(s));
  });
}

void fill(const Tensor& t, double value) {
  if (t.numel() == 0) return;
  const Geometry<1> g = make_geometry<1>("fill", {t});
  // The value's bits as the tensor's dtype, converted once on the host.
  Tensor one = full({}, value, t.dtype());
  switch (t.element_size()) {
    case 1: fill_as<uint8_t>(g, t, one); break;
    case 2: fill_as<uint16_t>(g, t, one); break;
    case 4: fill_as<uint32_t>(g, t, one); break;
    default: fill_as<uint64_t>(g, t, one); break;
  }
}

}  // namespace emrrg::cuda
