// The LoRA-fused linear kernels (cuda/kernels/lora_linear.cu) against the CPU op
// (ops/lora_linear.cpp) through autograd: y and the gradients of x, lora_a, lora_b and the bias.
// bf16/fp16 with r <= 64 run lora_linear_forward_tc_kernel (ranks 5, 20, 40 and 64: the padded
// ranks 16, 32, 48, 64); float32 and r = 70 take lora_linear_forward_simt_kernel. The backward runs
// lora_dh_kernel, lora_column_products_kernel (dA, dB, dbias as chunk partials), cuBLAS for g W and
// lora_dx_rank_kernel. N = 70 and 300 cross the 64- and 32-row tiles and the 256-row chunks; in = 70
// (scalar loads) and 136 (vector loads) cross the 64- and 16-wide k steps; out = 130 crosses the
// 64-column tiles, and Partial LoRA row ranges start and end inside a tile; dropout at the input
// and at the rank site with the CPU's Philox mask; outputs poisoned first.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "tests/sim/row_kernel_test_util.h"

namespace emrrg {
namespace {

using namespace row_kernel_test;

struct Case {
  int64_t N, in, out, r, row0, rows;
  DType dtype, adapter_dtype;
  bool bias;
  double dropout;
  LoraDropoutSite site = LoraDropoutSite::Input;
  bool strided_x = false;  // x as the transpose of an [in, N] tensor

  std::string name() const {
    return std::string(dtype_name(dtype)) + "/" + dtype_name(adapter_dtype) + " N" + std::to_string(N) + " in" +
           std::to_string(in) + " out" + std::to_string(out) + " r" + std::to_string(r) + " rows [" +
           std::to_string(row0) + ", " + std::to_string(row0 + rows) + ")" + (bias ? " bias" : "") + " dropout " +
           std::to_string(dropout) + (site == LoraDropoutSite::Rank ? " at rank" : "") +
           (strided_x ? " strided x" : "");
  }
};

// 16-bit types: the adapter and h are rounded to the 16-bit type for the tensor cores, the
// outputs once more (dx: g W rounded, then the rank-r term added); float32: sums in another order.
Tolerance tolerance(DType t) {
  return t == DType::BFloat16 ? Tolerance{2e-2, 1e-2} : t == DType::Float16 ? Tolerance{4e-3, 2e-3} : Tolerance{1e-4, 1e-5};
}

struct Outputs {
  Tensor y, dx, da, db, dbias;
};

Outputs run(const Case& c, const Device& dev) {
  auto leaf = [&](const Shape& shape, uint64_t seed, DType dtype, double range, bool grad) {
    Tensor t = detach(to_device(convert(random(shape, seed, -range, range), dtype), dev));
    if (grad) t.set_requires_grad();
    return t;
  };
  Tensor x = c.strided_x ? leaf({c.in, c.N}, 1, c.dtype, 1.0, true) : leaf({c.N, c.in}, 1, c.dtype, 1.0, true);
  const Tensor x_view = c.strided_x ? transpose(x, 0, 1) : x;
  const Tensor w = leaf({c.out, c.in}, 2, c.dtype, 0.2, false);
  Tensor bias = c.bias ? leaf({c.out}, 3, c.dtype, 1.0, true) : Tensor();
  Tensor a = leaf({c.r, c.in}, 4, c.adapter_dtype, 0.3, true), b = leaf({c.rows, c.r}, 5, c.adapter_dtype, 0.3, true);
  Generator gen(11);
  LoraLinearOptions o;
  o.row0 = c.row0;
  o.dropout = c.dropout;
  o.dropout_site = c.site;
  o.training = c.dropout > 0;
  o.generator = &gen;
  if (dev == kGpu) poison({{Shape{c.N, c.out}, c.dtype}, {Shape{c.N, c.r}, DType::Float32}});
  const Tensor y = lora_linear(x_view, w, bias, a, b, 1.5, o);
  const Tensor weights = to_device(convert(random({c.N, c.out}, 6), c.dtype), dev);
  if (dev == kGpu)
    poison({{Shape{c.N, c.in}, c.dtype}, {Shape{c.r, c.in}, c.adapter_dtype}, {Shape{c.rows, c.r}, c.adapter_dtype},
            {Shape{c.out}, c.dtype}});
  autograd::backward(sum(mul(y, weights)));
  return {y, x.grad(), a.grad(), b.grad(), c.bias ? bias.grad() : Tensor()};
}

void expect_same_as_cpu(const Case& c) {
  const Outputs cpu = run(c, Device::cpu()), gpu = run(c, kGpu);
  const Tolerance tol = tolerance(c.dtype);
  expect_close(gpu.y, cpu.y, tol, c.name() + " y");
  expect_close(gpu.dx, cpu.dx, tol, c.name() + " dx");
  expect_close(gpu.da, cpu.da, tol, c.name() + " dA");
  expect_close(gpu.db, cpu.db, tol, c.name() + " dB");
  if (c.bias) expect_close(gpu.dbias, cpu.dbias, tol, c.name() + " dbias");
}

class LoraLinearKernels : public ::testing::Test {
 protected:
  void SetUp() override { register_cuda(); }
};

TEST_F(LoraLinearKernels, TensorCores) {
  const DType bf16 = DType::BFloat16, f16 = DType::Float16, f32 = DType::Float32;
  for (const Case& c : {Case{70, 136, 130, 20, 40, 70, bf16, f32, true, 0.25},  // float32 adapters, Partial LoRA
                        Case{70, 70, 130, 40, 0, 130, bf16, bf16, false, 0.3, LoraDropoutSite::Rank},
                        Case{300, 72, 70, 5, 66, 4, f16, f16, true, 0.0, LoraDropoutSite::Input, true},
                        Case{17, 64, 64, 64, 0, 64, bf16, f32, true, 0.1}})
    expect_same_as_cpu(c);
}

TEST_F(LoraLinearKernels, Simt) {
  const DType f32 = DType::Float32, bf16 = DType::BFloat16;
  for (const Case& c : {Case{70, 70, 130, 5, 10, 100, f32, f32, true, 0.2},
                        Case{40, 20, 70, 7, 0, 70, f32, f32, false, 0.5, LoraDropoutSite::Rank, true},
                        Case{33, 24, 40, 70, 8, 20, bf16, f32, true, 0.0}})  // rank 70: off the tensor cores
    expect_same_as_cpu(c);
}

TEST_F(LoraLinearKernels, RankBeyondSharedMemoryIsAClearError) {
  const Tensor x = to_device(random({2, 4}, 1), kGpu), w = to_device(random({3, 4}, 2), kGpu);
  const Tensor a = to_device(random({1000, 4}, 3), kGpu), b = to_device(random({3, 1000}, 4), kGpu);
  try {
    lora_linear(x, w, Tensor(), a, b, 1.0);
    FAIL() << "rank 1000 was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("rank 1000 needs"), std::string::npos) << e.what();
  }
}

TEST_F(LoraLinearKernels, DeterministicAcrossRuns) {
  const Case c{300, 70, 130, 16, 40, 70, DType::BFloat16, DType::Float32, true, 0.25};
  const Outputs a = run(c, kGpu), b = run(c, kGpu);
  expect_same_bits(a.y, b.y, "y");
  expect_same_bits(a.dx, b.dx, "dx");
  expect_same_bits(a.da, b.da, "dA");
  expect_same_bits(a.db, b.db, "dB");
  expect_same_bits(a.dbias, b.dbias, "dbias");
}

}  // namespace
}  // namespace emrrg
