// The fused SwiGLU kernels (swiglu_forward_kernel, swiglu_backward_kernel in
// cuda/kernels/swiglu.cu) against the CPU op (ops/swiglu.cpp) through autograd: the output and
// both input gradients, float32, bfloat16 and float16, sizes that are not multiples of the
// block, and a transposed (non-contiguous) pair of inputs.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "tests/sim/device_op_test_util.h"

namespace emrrg {
namespace {

using namespace device_op_test;

using SwigluKernels = DeviceOpTest;

// Same float32 expressions on both sides; exp may differ by an ulp on a GPU.
double tolerance(DType t) { return t == DType::Float32 ? 1e-6 : t == DType::Float16 ? 2e-3 : 1e-2; }

struct Result {
  Tensor y, dgate, dup;
};

Result run(const Tensor& gate, const Tensor& up, const Tensor& w, const Device& dev,
           const std::function<Tensor(const Tensor&)>& view) {
  Tensor g = detach(to_device(gate, dev)), u = detach(to_device(up, dev));
  g.set_requires_grad();
  u.set_requires_grad();
  if (dev == kGpu) {
    poison_next_output(w.shape(), w.dtype());
    poison_next_output(w.shape(), w.dtype());
  }
  Tensor y = swiglu(view(g), view(u));
  autograd::backward(sum(mul(y, to_device(w, dev))));
  return {y, g.grad(), u.grad()};
}

void expect_same_as_cpu(const Shape& shape, DType dtype, const std::function<Tensor(const Tensor&)>& view) {
  const Tensor gate = random(shape, 1, dtype, -6.0, 6.0), up = random(shape, 2, dtype);
  const Tensor w = random(view(gate).shape(), 3, dtype);
  const Result cpu = run(gate, up, w, Device::cpu(), view), gpu = run(gate, up, w, kGpu, view);
  const std::string what = label("swiglu", dtype, shape);
  expect_close(gpu.y, cpu.y, tolerance(dtype), what + " forward");
  expect_close(gpu.dgate, cpu.dgate, tolerance(dtype), what + " dgate");
  expect_close(gpu.dup, cpu.dup, tolerance(dtype), what + " dup");
}

TEST_F(SwigluKernels, MatchTheCpuForwardAndBackward) {
  for (DType dtype : {DType::Float32, DType::BFloat16, DType::Float16})
    for (const Shape& shape : {Shape{1}, Shape{3, 37}, Shape{2, 5, 300}})
      expect_same_as_cpu(shape, dtype, [](const Tensor& t) { return t; });
}

TEST_F(SwigluKernels, TransposedInputs) {
  for (DType dtype : {DType::Float32, DType::BFloat16})
    expect_same_as_cpu({37, 20}, dtype, [](const Tensor& t) { return transpose(t, 0, 1); });
}

}  // namespace
}  // namespace emrrg
