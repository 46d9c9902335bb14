// Helpers of the elementwise, indexing, reduction, dropout and AdamW kernel tests: random inputs, output
// poisoning, and comparisons of a device result with the CPU op's, exact or within a stated
// tolerance.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/kernel_registration.h"
#include "ops/ops.h"

namespace emrrg::device_op_test {

inline const Device kGpu = Device::cuda(0);

class DeviceOpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cuda::register_cuda_backend();
    cuda::register_cuda_kernels();
  }
};

// Uniform in [lo, hi): never all zeros.
inline Tensor random(const Shape& shape, uint64_t seed, DType dtype = DType::Float32, double lo = -2.0,
                     double hi = 2.0) {
  Generator gen(seed);
  return convert(rand_uniform(shape, lo, hi, gen), dtype);
}

// The caching allocator hands a freed block of the same size to the next request of that
// size: filling one with NaN and freeing it makes any element a kernel forgets to write NaN.
inline void poison_next_output(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype, kGpu);
  fill(t, std::nan(""));
}

inline std::vector<double> host_values(const Tensor& t) { return to_device(t, Device::cpu()).to_vector<double>(); }

// Same shape, dtype and values, NaN matching NaN.
inline void expect_equal(const Tensor& gpu, const Tensor& cpu, const std::string& what) {
  ASSERT_TRUE(gpu.defined()) << what;
  ASSERT_EQ(gpu.device(), kGpu) << what;
  ASSERT_EQ(gpu.shape(), cpu.shape()) << what;
  ASSERT_EQ(gpu.dtype(), cpu.dtype()) << what;
  const auto a = host_values(gpu), b = host_values(cpu);
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(b[i])) ASSERT_TRUE(std::isnan(a[i])) << what << " element " << i;
    else ASSERT_EQ(a[i], b[i]) << what << " element " << i;
  }
}

// |gpu - cpu| <= rel * (1 + |cpu|) elementwise.
inline void expect_close(const Tensor& gpu, const Tensor& cpu, double rel, const std::string& what) {
  ASSERT_TRUE(gpu.defined()) << what;
  ASSERT_EQ(gpu.device(), kGpu) << what;
  ASSERT_EQ(gpu.shape(), cpu.shape()) << what;
  ASSERT_EQ(gpu.dtype(), cpu.dtype()) << what;
  const auto a = host_values(gpu), b = host_values(cpu);
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], rel * (1 + std::abs(b[i]))) << what << " element " << i;
}

// y = op(x) on the CPU, then on the device from the same values (one graph at a time:
// backward consumes the whole tape), each followed by the gradient of sum(y * w) for one
// random w. The device's outputs are poisoned first. rel 0 asks for equality.
inline void expect_same_as_cpu(const std::string& what, const Tensor& x_values,
                               const std::function<Tensor(const Tensor&)>& op, double rel = 0) {
  const DType dtype = x_values.dtype();
  Tensor x_cpu = to_contiguous(x_values);
  x_cpu.set_requires_grad();
  Tensor y_cpu = op(x_cpu);
  Tensor w_cpu = random(y_cpu.shape(), 99, y_cpu.dtype());
  autograd::backward(sum(mul(y_cpu, w_cpu)));

  Tensor x_gpu = to_device(x_values, kGpu);
  x_gpu.set_requires_grad();
  Tensor w_gpu = to_device(w_cpu, kGpu);
  poison_next_output(y_cpu.shape(), y_cpu.dtype());
  Tensor y_gpu = op(x_gpu);
  poison_next_output(x_values.shape(), DType::Float32);  // float32 accumulators
  poison_next_output(x_values.shape(), dtype);
  autograd::backward(sum(mul(y_gpu, w_gpu)));
  if (rel == 0) {
    expect_equal(y_gpu, y_cpu, what + " forward");
    expect_equal(x_gpu.grad(), x_cpu.grad(), what + " gradient");
  } else {
    expect_close(y_gpu, y_cpu, rel, what + " forward");
    expect_close(x_gpu.grad(), x_cpu.grad(), rel, what + " gradient");
  }
}

inline std::string label(const std::string& what, DType dtype, const Shape& shape) {
  return what + " " + dtype_name(dtype) + " " + shape_str(shape);
}

}  // namespace emrrg::device_op_test
