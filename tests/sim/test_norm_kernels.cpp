// The layer-norm and RMSNorm kernels (cuda/kernels/norm.cu) against the CPU operators
// (ops/norm.cpp), forward and backward through autograd including the weight and bias
// gradients, float32 and bfloat16, run by the simulator. Row lengths cover both row-kernel
// variants: a warp per row (D <= 1024; 10 and 100 are not multiples of 32) and a block per row
// (D = 1500, longer than the block); 150 rows make the parameter gradients sum three chunks.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "tests/sim/row_kernel_test_util.h"

namespace emrrg {
namespace {

using namespace row_kernel_test;

// float32: the kernels accumulate in float where the CPU accumulates in double.
// bfloat16: results are rounded to 8 mantissa bits once on both sides, after float maths that
// may differ in the last bits, so a rounding can land one ulp apart.
Tolerance tolerance(DType t) { return t == DType::BFloat16 ? Tolerance{2e-2, 1e-2} : Tolerance{2e-5, 5e-6}; }

class NormKernels : public ::testing::Test {
 protected:
  void SetUp() override { register_cuda(); }
};

struct Variant {
  const char* name;
  bool rms, weight, bias;
};
const std::vector<Variant> kVariants = {{"layer_norm", false, true, true},
                                        {"layer_norm without parameters", false, false, false},
                                        {"layer_norm weight only", false, true, false},
                                        {"rms_norm", true, true, false},
                                        {"rms_norm without weight", true, false, false}};

struct Grads {
  Tensor y, gx, gw, gb;
};

// y = norm(x; w, b) and the gradients of sum(y * r), all inputs fresh leaves on r's device. One
// graph at a time: backward consumes the whole tape. Outputs are poisoned before each pass.
Grads run(const Variant& v, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& r,
          const std::function<Tensor(const Tensor&)>& view = [](const Tensor& t) { return t; }) {
  const Device dev = r.device();
  const bool gpu = dev == kGpu;
  auto leaf = [&](const Tensor& t, bool use) {
    if (!use) return Tensor();
    Tensor l = detach(to_device(t, dev));  // a fresh leaf even when t is already there
    l.set_requires_grad();
    return l;
  };
  Tensor xl = leaf(x, true), wl = leaf(w, v.weight), bl = leaf(b, v.bias);
  const Shape& shape = r.shape();
  const int64_t D = shape.back(), rows = r.numel() / D;
  if (gpu) poison({{shape, x.dtype()}, {Shape{rows}, DType::Float32}, {Shape{rows}, DType::Float32}});
  Tensor y = v.rms ? rms_norm(view(xl), wl, 1e-6) : layer_norm(view(xl), wl, bl, 1e-5);
  if (gpu) poison({{shape, x.dtype()}, {Shape{D}, x.dtype()}, {Shape{D}, x.dtype()}});
  autograd::backward(sum(mul(y, r)));
  return {y, xl.grad(), v.weight ? wl.grad() : Tensor(), v.bias ? bl.grad() : Tensor()};
}

void expect_grads_close(const Grads& gpu, const Grads& cpu, const Variant& v, Tolerance tol, const std::string& what) {
  expect_close(gpu.y, cpu.y, tol, what + " forward");
  expect_close(gpu.gx, cpu.gx, tol, what + " input gradient");
  if (v.weight) expect_close(gpu.gw, cpu.gw, tol, what + " weight gradient");
  if (v.bias) expect_close(gpu.gb, cpu.gb, tol, what + " bias gradient");
}

// norm_forward_kernel and norm_backward_kernel (layer and RMS, warp and block rows),
// norm_param_partials_kernel and norm_param_sums_kernel for the weight and bias gradients.
TEST_F(NormKernels, LayerNormAndRmsNormForwardAndBackwardMatchTheCpu) {
  const std::vector<Shape> shapes = {{6, 10}, {37, 100}, {5, 1000}, {3, 1500}, {150, 64}};
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    for (const Shape& shape : shapes) {
      const int64_t D = shape.back();
      // An offset mean and a spread other than 1, so both statistics matter.
      const Tensor x = convert(random(shape, 31, -1.0, 3.0), dtype);
      const Tensor w = convert(random({D}, 32, 0.5, 1.5), dtype);
      const Tensor b = convert(random({D}, 33), dtype);
      const Tensor r = convert(random(shape, 34), dtype);
      for (const Variant& v : kVariants) {
        const std::string what = std::string(v.name) + " " + dtype_name(dtype) + " " + shape_str(shape);
        const Grads gpu = run(v, x, w, b, to_device(r, kGpu));
        const Grads cpu = run(v, x, w, b, r);
        expect_grads_close(gpu, cpu, v, tolerance(dtype), what);
      }
    }
  }
}

// A transposed (non-contiguous) 3-D input, and float16 through the same kernels.
TEST_F(NormKernels, TransposedInputAndFloat16) {
  const auto view = [](const Tensor& t) { return transpose(t, 1, 2); };
  for (DType dtype : {DType::Float32, DType::Float16}) {
    const Tensor x = convert(random({2, 70, 9}, 35, -1.0, 3.0), dtype);  // normalised over 70
    const Tensor w = convert(random({70}, 36, 0.5, 1.5), dtype);
    const Tensor b = convert(random({70}, 37), dtype);
    const Tensor r = convert(random({2, 9, 70}, 38), dtype);
    const Tolerance tol = dtype == DType::Float16 ? Tolerance{4e-3, 2e-3} : tolerance(dtype);
    for (const Variant& v : {kVariants[0], kVariants[3]}) {
      const std::string what = std::string(v.name) + " transposed " + dtype_name(dtype);
      expect_grads_close(run(v, x, w, b, to_device(r, kGpu), view), run(v, x, w, b, r, view), v, tol, what);
    }
  }
}

// Hugging Face's RMSNorm rounds x * rstd to the input dtype before the weight. Without that
// rounding about a quarter of these bfloat16 outputs differ by an ulp from the CPU op;
// with it, only elements whose float rstd lands next to a rounding boundary may.
TEST_F(NormKernels, RmsNormRoundsToTheInputDtypeBeforeTheWeight) {
  const Tensor x = convert(random({8, 1000}, 39), DType::BFloat16);
  const Tensor w = convert(random({1000}, 40, 1.0, 3.0), DType::BFloat16);
  poison({{Shape{8, 1000}, DType::BFloat16}});
  const std::vector<double> gpu = rms_norm(to_device(x, kGpu), to_device(w, kGpu)).to_vector<double>();
  const std::vector<double> cpu = rms_norm(x, w).to_vector<double>();
  int differ = 0;
  for (size_t i = 0; i < gpu.size(); ++i) {
    if (gpu[i] == cpu[i]) continue;
    ++differ;
    ASSERT_NEAR(gpu[i], cpu[i], std::abs(cpu[i]) * 1.6e-2) << "element " << i;
  }
  EXPECT_LE(differ, 8) << "of " << gpu.size();
}

// The weight and bias gradients (norm_param_partials_kernel, then norm_param_sums_kernel in a
// fixed chunk order, no atomics) are the same bits on every run.
TEST_F(NormKernels, ParameterGradientsAreReproducible) {
  const Variant v = kVariants[0];
  const Tensor x = random({260, 40}, 41), w = random({40}, 42, 0.5, 1.5), b = random({40}, 43);
  const Tensor r = to_device(random({260, 40}, 44), kGpu);
  const Grads first = run(v, x, w, b, r), second = run(v, x, w, b, r);
  expect_same_bits(first.gw, second.gw, "weight gradient");
  expect_same_bits(first.gb, second.gb, "bias gradient");
  expect_grads_close(first, run(v, x, w, b, to_device(r, Device::cpu())), v, tolerance(DType::Float32), "260 rows");
}

}  // namespace
}  // namespace emrrg
