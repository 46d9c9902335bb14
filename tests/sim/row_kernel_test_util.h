// Helpers of the row-kernel tests (test_softmax_kernels.cpp, test_norm_kernels.cpp): random
// inputs, output poisoning and a tolerance check of a device result against the CPU op.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/kernel_registration.h"
#include "ops/ops.h"

namespace emrrg::row_kernel_test {

inline const Device kGpu = Device::cuda(0);

inline void register_cuda() {
  cuda::register_cuda_backend();
  cuda::register_cuda_kernels();
}

// Uniform in [lo, hi): never all zeros.
inline Tensor random(const Shape& shape, uint64_t seed, double lo = -2.0, double hi = 2.0) {
  Generator gen(seed);
  return rand_uniform(shape, lo, hi, gen);
}

// The simulator's caching allocator hands a freed block back only to a request of the same
// size: filling blocks of each output's size with NaN and freeing them makes the kernels'
// outputs start as NaN, so an element a kernel forgets to write shows. Two blocks per entry,
// since an op may first take one of that size for a contiguous copy of its input.
inline void poison(const std::vector<std::pair<Shape, DType>>& outputs) {
  std::vector<Tensor> blocks;
  for (const auto& [shape, dtype] : outputs)
    for (int k = 0; k < 2; ++k) {
      blocks.push_back(empty(shape, dtype, kGpu));
      fill(blocks.back(), std::nan(""));
    }
}

struct Tolerance {
  double rtol, atol;  // |gpu - cpu| <= rtol |cpu| + atol max|cpu|
};

// The reference must have a nonzero element (else the comparison proves nothing); infinities
// must match exactly.
inline void expect_close(const Tensor& gpu, const Tensor& cpu, Tolerance tol, const std::string& what) {
  ASSERT_TRUE(gpu.defined()) << what;
  ASSERT_EQ(gpu.device(), kGpu) << what;
  ASSERT_EQ(gpu.shape(), cpu.shape()) << what;
  ASSERT_EQ(gpu.dtype(), cpu.dtype()) << what;
  const std::vector<double> a = to_device(gpu, Device::cpu()).to_vector<double>(), b = cpu.to_vector<double>();
  double scale = 0;
  for (double v : b)
    if (std::isfinite(v)) scale = std::max(scale, std::abs(v));
  ASSERT_GT(scale, 0.0) << what << ": the reference is all zeros";
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isinf(b[i])) {
      ASSERT_EQ(a[i], b[i]) << what << " element " << i;
      continue;
    }
    ASSERT_NEAR(a[i], b[i], tol.rtol * std::abs(b[i]) + tol.atol * scale) << what << " element " << i;
  }
}

// Bitwise equality of two device tensors (reproducibility).
inline void expect_same_bits(const Tensor& a, const Tensor& b, const std::string& what) {
  const std::vector<double> x = to_device(a, Device::cpu()).to_vector<double>();
  const std::vector<double> y = to_device(b, Device::cpu()).to_vector<double>();
  ASSERT_EQ(x.size(), y.size()) << what;
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(x[i], y[i]) << what << " element " << i;
}

}  // namespace emrrg::row_kernel_test
