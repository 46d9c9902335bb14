// dropout_scale_kernel (cuda/kernels/dropout.cu) against the CPU, run by the simulator: the
// device draws the CPU's Philox numbers, so for the same generator state dropout keeps exactly
// the elements the CPU's bernoulli_mask keeps, and its values and gradients are the CPU's.
#include "tests/sim/device_op_test_util.h"

namespace emrrg {
namespace {

using namespace device_op_test;

class DropoutKernels : public DeviceOpTest {};

// Sizes that are not multiples of the 4 numbers of a Philox block or of the block size.
const std::vector<Shape> kShapes = {{1000}, {3, 5, 7}, {257}, {2, 3}, {33, 65}};

TEST_F(DropoutKernels, DeviceMaskIsTheCpuBernoulliMaskBitForBit) {
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    for (const Shape& shape : kShapes) {
      for (double p : {0.1, 0.5, 0.9}) {
        const std::string what = label("dropout p " + std::to_string(p), dtype, shape);
        const Tensor x = random(shape, 1, dtype);  // no zeros: a zero output means dropped
        Generator for_mask(1234, 7), for_cpu(1234, 7), for_gpu(1234, 7);
        const auto keep = bernoulli_mask(shape, 1.0 - p, for_mask).to_vector<bool>();
        poison_next_output(shape, dtype);
        const Tensor y = dropout(to_device(x, kGpu), p, true, for_gpu);
        EXPECT_EQ(for_gpu.offset(), for_mask.offset()) << what << ": one draw per call";
        const auto v = host_values(y);
        for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i] != 0.0, keep[i]) << what << " element " << i;
        expect_equal(y, dropout(x, p, true, for_cpu), what);
      }
    }
  }
}

// The gradient of dropout is g * scale, scale from the kernel: equal to the CPU's.
TEST_F(DropoutKernels, GradientMatchesTheCpu) {
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    for (const Shape& shape : kShapes) {
      expect_same_as_cpu(label("dropout backward", dtype, shape), random(shape, 2, dtype), [](const Tensor& x) {
        Generator gen(99, 3);  // the same state for the CPU and the device graph
        return dropout(x, 0.3, true, gen);
      });
    }
  }
}

// Different offsets give different masks on the device, as on the CPU.
TEST_F(DropoutKernels, EachDrawUsesTheNextOffset) {
  const Tensor x = to_device(random({1000}, 3), kGpu);
  Generator gen(5);
  const auto a = host_values(dropout(x, 0.5, true, gen)), b = host_values(dropout(x, 0.5, true, gen));
  EXPECT_NE(a, b);
  EXPECT_EQ(gen.offset(), 2u);
}

}  // namespace
}  // namespace emrrg
