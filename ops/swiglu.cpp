#include "ops/swiglu.h"

#include "autograd/tape.h"
#include "ops/device_kernels.h"
#include "ops/kernel_util.h"
#include "ops/scalar_math.h"

namespace emrrg {

namespace {

// silu(gate) * up with silu rounded to the inputs' dtype first, as Hugging Face's
// act_fn(gate_proj(x)) * up_proj(x) rounds it.
Tensor swiglu_forward(const Tensor& gate, const Tensor& up) {
  if (!gate.device().is_cpu()) return device_kernel("swiglu", gate, &DeviceKernels::swiglu_forward)(gate, up);
  const DType dt = gate.dtype();
  Tensor y = detail::dispatch_compute(dt, [&](auto tag) {
    using T = decltype(tag);
    return detail::map_kernel<T, T, 2>("swiglu", {gate, up}, [dt](T g, T u) {
      return detail::round_to(dt, scalar::unary<UnaryOp::Silu, T>(g, T(0), T(0))) * u;
    });
  });
  return y.dtype() == dt ? y : convert(y, dt);
}

// {dgate, dup} = {g * up * silu'(gate), g * silu(gate)}, each rounded once.
std::vector<Tensor> swiglu_backward(const Tensor& gate, const Tensor& up, const Tensor& g) {
  const Tensor gc = g.dtype() == gate.dtype() ? g : convert(g, gate.dtype());
  if (!gate.device().is_cpu()) return device_kernel("swiglu", gate, &DeviceKernels::swiglu_backward)(gate, up, gc);
  const DType dt = gate.dtype();
  return detail::dispatch_compute(dt, [&](auto tag) {
    using T = decltype(tag);
    Tensor dgate = detail::map_kernel<T, T, 3>("swiglu", {gate, up, gc}, [](T x, T u, T gv) {
      return gv * u * scalar::unary_derivative<UnaryOp::Silu, T>(x, T(0), T(0), T(0));
    });
    Tensor dup = detail::map_kernel<T, T, 2>(
        "swiglu", {gate, gc}, [](T x, T gv) { return gv * scalar::unary<UnaryOp::Silu, T>(x, T(0), T(0)); });
    return std::vector<Tensor>{convert(dgate, dt), convert(dup, dt)};
  });
}

}  // namespace

Tensor swiglu(const Tensor& gate, const Tensor& up) {
  detail::check_floating("swiglu", gate);
  detail::check_floating("swiglu", up);
  detail::check_same_dtype("swiglu", gate, up);
  if (gate.shape() != up.shape())
    detail::op_error("swiglu",
                     "gate " + shape_str(gate.shape()) + " and up " + shape_str(up.shape()) + " must have one shape");
  if (gate.device() != up.device())
    detail::op_error("swiglu", "gate on " + gate.device().str() + ", up on " + up.device().str());
  Tensor y = swiglu_forward(gate, up);
  autograd::record("swiglu", {gate, up}, {y},
                   [gate, up](const std::vector<Tensor>& g) { return swiglu_backward(gate, up, g[0]); });
  return y;
}

}  // namespace emrrg
