// The rotary kernel (rotary_kernel in cuda/kernels/rotary.cu) against the CPU op
// (ops/rotary.cpp) through autograd, forward and backward (the rotation by the opposite
// angle), both pairings, positions [L] (int64) and [batch, L] (int32), head dims 8 and 64,
// L 1 and 17, a permuted (non-contiguous) input, float32, bfloat16 and float16.
#include <gtest/gtest.h>

#include <string>

#include "tests/sim/device_op_test_util.h"

namespace emrrg {
namespace {

using namespace device_op_test;

using RotaryKernels = DeviceOpTest;

// The simulator computes cos, sin and pow with the host's functions, as the CPU op does; a GPU's
// cosf/sinf/powf may differ by an ulp, which can move a 16-bit rounding by one step.
double tolerance(DType t) { return t == DType::Float32 ? 1e-5 : t == DType::Float16 ? 2e-3 : 1e-2; }

Tensor positions_for(int64_t batch, int64_t L, bool per_batch) {
  if (!per_batch) {
    Tensor p = empty({L}, DType::Int64);
    for (int64_t l = 0; l < L; ++l) p.data<int64_t>()[l] = l + 3;  // after 3 cached tokens
    return p;
  }
  Tensor p = empty({batch, L}, DType::Int32);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t l = 0; l < L; ++l) p.data<int32_t>()[b * L + l] = static_cast<int32_t>(l * (b + 1) + 7 * b);
  return p;
}

TEST_F(RotaryKernels, MatchTheCpuForwardAndBackward) {
  for (DType dtype : {DType::Float32, DType::BFloat16, DType::Float16})
    for (RotaryPairing pairing : {RotaryPairing::HalfSplit, RotaryPairing::Interleaved})
      for (bool per_batch : {false, true})
        for (const Shape& shape : {Shape{2, 3, 17, 8}, Shape{1, 2, 1, 64}, Shape{2, 1, 5, 64}}) {
          const Tensor positions = positions_for(shape[0], shape[2], per_batch);
          const double theta = dtype == DType::Float32 ? 10000.0 : 1e6;
          const std::string what = label(pairing == RotaryPairing::HalfSplit ? "half-split" : "interleaved", dtype, shape) +
                                   (per_batch ? " [batch, L] positions" : " [L] positions");
          expect_same_as_cpu(what, random(shape, 11, dtype),
                             [&](const Tensor& x) { return rotary(x, positions, theta, pairing); }, tolerance(dtype));
        }
}

TEST_F(RotaryKernels, PermutedInput) {
  // Queries as a projection makes them: [batch, L, heads, head_dim] viewed as [batch, heads, L, head_dim].
  const Tensor positions = positions_for(2, 6, false);
  for (DType dtype : {DType::Float32, DType::BFloat16})
    expect_same_as_cpu(label("permuted", dtype, {2, 4, 6, 16}), random({2, 6, 4, 16}, 5, dtype),
                       [&](const Tensor& x) { return rotary(permute(x, {0, 2, 1, 3}), positions, 10000.0, RotaryPairing::HalfSplit); },
                       tolerance(dtype));
}

}  // namespace
}  // namespace emrrg
