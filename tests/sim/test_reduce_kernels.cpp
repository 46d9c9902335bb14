// The reduction kernels (cuda/kernels/reduce.cu) against the CPU ops, run by the simulator:
// argmax_rows_kernel (argmax, and max as argmax + gather) and var_rows_kernel, over any dims,
// float32 and bfloat16, forward and backward.
#include <cmath>
#include <limits>

#include "tests/sim/device_op_test_util.h"

namespace emrrg {
namespace {

using namespace device_op_test;

class ReduceKernels : public DeviceOpTest {};

const std::vector<Shape> kShapes = {{3, 300}, {300, 5}, {5, 7, 33}};

// Values on a grid of halves in [-2, 2]: every row has ties, so "the first maximum" matters.
Tensor tied(const Shape& shape, uint64_t seed, DType dtype) {
  auto v = random(shape, seed).to_vector<float>();
  for (float& x : v) x = std::round(x * 2) / 2;
  return from_vector(v, shape, dtype);
}

// argmax_rows_kernel: exact positions along every dim, with and without ties, rows shorter
// and longer than a block.
TEST_F(ReduceKernels, ArgmaxAlongEachDimMatchesTheCpu) {
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    for (const Shape& shape : kShapes) {
      for (const Tensor& x : {random(shape, 1, dtype), tied(shape, 2, dtype)}) {
        const Tensor g = to_device(x, kGpu);
        for (int64_t dim = 0; dim < x.dim(); ++dim) {
          const bool keepdim = dim % 2 == 1;
          const Tensor want = argmax(x, dim, keepdim);
          poison_next_output(want.shape(), DType::Int64);
          expect_equal(argmax(g, dim, keepdim), want, label("argmax dim " + std::to_string(dim), dtype, shape));
        }
      }
    }
  }
}

// A NaN is the maximum, and the first NaN of a row wins, as on the CPU.
TEST_F(ReduceKernels, ArgmaxPicksTheFirstNaN) {
  auto v = random({4, 50}, 3).to_vector<float>();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  v[1 * 50 + 30] = nan;
  v[1 * 50 + 10] = nan;
  v[2 * 50 + 0] = nan;
  v[3 * 50 + 49] = nan;
  const Tensor x = from_vector(v, {4, 50});
  const Tensor got = argmax(to_device(x, kGpu), 1, false);
  expect_equal(got, argmax(x, 1, false), "argmax with NaN");
  EXPECT_EQ(host_values(got)[1], 10);
}

// max = argmax_rows_kernel + gather_kernel forward, gather_backward_kernel backward: values
// and the gradient (to the first maximum of tied rows) equal the CPU's exactly.
TEST_F(ReduceKernels, MaxValuesAndGradientToTheFirstMaximum) {
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    for (const Shape& shape : kShapes) {
      for (int64_t dim = 0; dim < static_cast<int64_t>(shape.size()); ++dim) {
        const bool keepdim = dim % 2 == 0;
        expect_same_as_cpu(label("max dim " + std::to_string(dim), dtype, shape), tied(shape, 4, dtype),
                           [&](const Tensor& x) { return max(x, dim, keepdim); });
      }
    }
  }
}

// var_rows_kernel over any set of dims, with and without Bessel's correction; the backward
// reuses the elementwise and sum kernels. float32 differs from the CPU's double accumulation
// by float32 rounding of the row sums (1e-5 relative); bfloat16 by one rounding of its 8-bit
// mantissa in the result (1e-2 relative, values and gradients).
TEST_F(ReduceKernels, VarianceOverAnyDimsForwardAndBackward) {
  struct Case {
    Shape shape;
    std::vector<int64_t> dims;
  };
  const std::vector<Case> cases = {
      {{3, 300}, {-1}}, {{300, 5}, {0}}, {{300, 5}, {}}, {{5, 7, 33}, {0, 2}}, {{5, 7, 33}, {1}},
  };
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    const double rel = dtype == DType::BFloat16 ? 1e-2 : 1e-5;
    for (const Case& c : cases) {
      for (int64_t correction : {0, 1}) {
        const bool keepdim = correction == 1;
        expect_same_as_cpu(label("var correction " + std::to_string(correction), dtype, c.shape),
                           random(c.shape, 5, dtype, 1.0, 3.0),
                           [&](const Tensor& x) { return var(x, c.dims, correction, keepdim); }, rel);
      }
    }
  }
}

}  // namespace
}  // namespace emrrg
