// Fused SwiGLU, silu(gate) * up, and its backward in one pass over the three inputs: the
// float32 maths of ops/scalar_math.h, shared with the CPU reference (ops/swiglu.cpp).
#include "cuda/kernels/swiglu.h"

#include "cuda/kernels/storage.h"
#include "ops/scalar_math.h"

namespace emrrg::cuda {

namespace {

using storage::ptr;
using storage::to_float;
using storage::to_storage;

// gate, up, y: [n]
template <typename S> __global__ void swiglu_forward_kernel(const S* gate, const S* up, S* y, int64_t n) {
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const float silu = to_float(to_storage<S>(scalar::unary<UnaryOp::Silu, float>(to_float(gate[i]), 0.0f, 0.0f)));
    y[i] = to_storage<S>(silu * to_float(up[i]));
  }
}

// gate, up, g, dgate, dup: [n]
template <typename S>
__global__ void swiglu_backward_kernel(const S* gate, const S* up, const S* g, S* dgate, S* dup, int64_t n) {
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const float x = to_float(gate[i]), gv = to_float(g[i]);
    dgate[i] = to_storage<S>(gv * to_float(up[i]) * scalar::unary_derivative<UnaryOp::Silu, float>(x, 0.0f, 0.0f, 0.0f));
    dup[i] = to_storage<S>(gv * scalar::unary<UnaryOp::Silu, float>(x, 0.0f, 0.0f));
  }
}

void check_operand(const Tensor& t, const Tensor& gate) {
  storage::check_cuda_floating("swiglu", t);
  if (t.shape() != gate.shape() || t.dtype() != gate.dtype() || t.device() != gate.device())
    throw std::invalid_argument("swiglu: " + t.str() + " does not match gate " + gate.str());
}

}  // namespace

Tensor swiglu_forward(const Tensor& gate, const Tensor& up) {
  check_operand(gate, gate);
  check_operand(up, gate);
  const Tensor gc = to_contiguous(gate), uc = to_contiguous(up);
  Tensor y = empty(gate.shape(), gate.dtype(), gate.device());
  const int64_t n = y.numel();
  if (n == 0) return y;
  storage::dispatch_storage(gate.dtype(), [&](auto s) {
    using S = decltype(s);
    EMRRG_LAUNCH(swiglu_forward_kernel<S>, storage::grid_for(n), storage::kBlock, 0, nullptr, ptr<const S>(gc),
                 ptr<const S>(uc), ptr<S>(y), n);
  });
  return y;
}

std::vector<Tensor> swiglu_backward(const Tensor& gate, const Tensor& up, const Tensor& g) {
  check_operand(gate, gate);
  check_operand(up, gate);
  check_operand(g, gate);
  const Tensor gc = to_contiguous(gate), uc = to_contiguous(up), grad = to_contiguous(g);
  std::vector<Tensor> out{empty(gate.shape(), gate.dtype(), gate.device()), empty(gate.shape(), gate.dtype(), gate.device())};
  const int64_t n = gate.numel();
  if (n == 0) return out;
  storage::dispatch_storage(gate.dtype(), [&](auto s) {
    using S = decltype(s);
    EMRRG_LAUNCH(swiglu_backward_kernel<S>, storage::grid_for(n), storage::kBlock, 0, nullptr, ptr<const S>(gc),
                 ptr<const S>(uc), ptr<const S>(grad), ptr<S>(out[0]), ptr<S>(out[1]), n);
  });
  return out;
}

}  // namespace emrrg::cuda
