// The causal conv1d kernels (cuda/kernels/causal_conv1d.cu) against the CPU operator
// (ops/causal_conv1d.cpp), run by the simulator: the forward and the gradients of x, weight
// and bias through autograd, widths 2 to 4, with and without SiLU and bias, float32 and
// bfloat16, outputs poisoned before each pass. Lengths 1, 7, 197 (two backward tiles of 128)
// and 300 (three); the weight and bias gradients sum tiles and batch rows.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/kernels/causal_conv1d.h"
#include "ops/causal_conv1d.h"
#include "tests/sim/row_kernel_test_util.h"

namespace emrrg {
namespace {

using namespace row_kernel_test;

class CausalConv1dKernels : public ::testing::Test {
 protected:
  void SetUp() override { register_cuda(); }
};

struct ConvCase {
  int64_t batch, dim, L, W;
  DType dtype;
  bool silu, with_bias;

  std::string str() const {
    return std::string(dtype_name(dtype)) + " [" + std::to_string(batch) + ", " + std::to_string(dim) + ", " +
           std::to_string(L) + "] W " + std::to_string(W) + (silu ? " silu" : "") + (with_bias ? " bias" : "");
  }
};

struct ConvRun {
  Tensor out, dx, dweight, dbias;
};

// out = causal_conv1d(x, weight [dim, 1, W], bias) and the gradients of sum(out * r), the inputs
// fresh leaves on r's device; outputs poisoned before each pass on the device.
ConvRun run(const ConvCase& c, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& r) {
  const Device dev = r.device();
  const bool gpu = dev == kGpu;
  auto leaf = [&](const Tensor& t) {
    if (!t.defined()) return Tensor();
    Tensor l = detach(to_device(t, dev));
    l.set_requires_grad();
    return l;
  };
  Tensor xl = leaf(x), wl = leaf(w), bl = leaf(b);
  if (gpu) poison({{x.shape(), c.dtype}});
  Tensor out = causal_conv1d(xl, wl, bl, c.silu);
  if (gpu) poison({{x.shape(), c.dtype}, {w.shape(), w.dtype()}, {Shape{c.dim}, w.dtype()}});
  autograd::backward(sum(mul(out, r)));
  return {out, xl.grad(), wl.grad(), bl.defined() ? bl.grad() : Tensor()};
}

// float32: float accumulations in other orders; 16-bit: results rounded once on both sides,
// possibly to neighbouring values.
Tolerance tolerance(DType t) {
  if (t == DType::Float32) return {2e-5, 2e-6};
  return t == DType::Float16 ? Tolerance{4e-3, 2e-3} : Tolerance{2e-2, 1e-2};
}

void expect_case_matches_cpu(const ConvCase& c, uint64_t seed) {
  const Tensor x = convert(random({c.batch, c.dim, c.L}, seed), c.dtype);
  const Tensor w = convert(random({c.dim, 1, c.W}, seed + 1, -1.0, 1.0), c.dtype);
  const Tensor b = c.with_bias ? convert(random({c.dim}, seed + 2, -1.0, 1.0), c.dtype) : Tensor();
  const Tensor r = convert(random({c.batch, c.dim, c.L}, seed + 3), c.dtype);
  const ConvRun cpu = run(c, x, w, b, r), gpu = run(c, x, w, b, to_device(r, kGpu));
  const Tolerance tol = tolerance(c.dtype);
  expect_close(gpu.out, cpu.out, tol, c.str() + " out");
  expect_close(gpu.dx, cpu.dx, tol, c.str() + " dx");
  expect_close(gpu.dweight, cpu.dweight, tol, c.str() + " dweight");
  if (c.with_bias) expect_close(gpu.dbias, cpu.dbias, tol, c.str() + " dbias");
}

// causal_conv1d_forward_kernel and causal_conv1d_backward_kernel, then sum_partials_kernel for
// the weight and bias gradients. Each width meets each dtype with and without SiLU and bias.
TEST_F(CausalConv1dKernels, ForwardAndGradientsMatchTheCpu) {
  const int64_t lengths[] = {1, 7, 197, 300};
  for (DType dtype : {DType::Float32, DType::BFloat16})
    for (int i = 0; i < 4; ++i) {
      const int64_t L = lengths[i];
      expect_case_matches_cpu({2, 5, L, 4 - i % 3, dtype, true, true}, 10 * L + i);
      expect_case_matches_cpu({2, 5, L, 2 + i % 3, dtype, false, false}, 20 * L + i);
    }
}

TEST_F(CausalConv1dKernels, Float16AndOneRow) {
  expect_case_matches_cpu({1, 1, 130, 4, DType::Float32, true, true}, 30);
  expect_case_matches_cpu({3, 4, 60, 3, DType::Float16, true, true}, 31);
}

// The weight and bias gradients are partials added in a fixed order: the same bits every run.
TEST_F(CausalConv1dKernels, GradientsAreReproducible) {
  const ConvCase c{2, 6, 300, 4, DType::Float32, true, true};
  const Tensor x = random({2, 6, 300}, 40), w = random({6, 1, 4}, 41, -1.0, 1.0), b = random({6}, 42, -1.0, 1.0);
  const Tensor r = to_device(random({2, 6, 300}, 43), kGpu);
  const ConvRun first = run(c, x, w, b, r), second = run(c, x, w, b, r);
  expect_same_bits(first.out, second.out, "out");
  expect_same_bits(first.dx, second.dx, "dx");
  expect_same_bits(first.dweight, second.dweight, "dweight");
  expect_same_bits(first.dbias, second.dbias, "dbias");
}

// A width the kernels do not have is refused with the weight's shape.
TEST_F(CausalConv1dKernels, WidthBeyondFourIsRefused) {
  const Tensor x = to_device(random({1, 2, 8}, 50), kGpu), w = to_device(random({2, 5}, 51), kGpu);
  try {
    cuda::causal_conv1d_forward(x, w, Tensor(), true);
    FAIL() << "a width of 5 was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 5]"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace emrrg
