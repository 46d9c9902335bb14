// The gated cross-attention kernels (cuda/kernels/gated_cross_attention.cu on the attention
// kernels of attention.cu) against the CPU op (ops/gated_cross_attention.cpp) through autograd:
// out and the gradients of q, k, v, self_out, gate_logit and warm_up. bf16/fp16 at head dims 64
// and 128 run attention_forward_tc_kernel with the gates in its epilogue and the dq/dkdv tensor-core
// kernels with dout scaled per row; float32 and head dim 40 the warp-per-row kernels; every
// backward runs attention_delta_kernel and gated_cross_attention_gates_kernel (the gates' gradients,
// the warm-up gate's as block partials summed by sum_partials_kernel). Lt = 70 and 300 cross the
// 64-row tiles and the 256-token blocks of the gates kernel, Lv = 70 the 64-key tiles; grouped-query
// heads; key padding, with one study whose visual tokens are all masked (cross = 0); outputs
// poisoned first. With warm_up = 0 the output is self_out exactly and dq, dk, dv and dgate_logit
// are exactly 0 (the layer starts as the pre-trained one); two runs give the same bits.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "tests/sim/row_kernel_test_util.h"

namespace emrrg {
namespace {

using namespace row_kernel_test;

struct Case {
  int64_t batch, q_heads, kv_heads, Lt, Lv, head_dim;
  DType dtype;
  bool padded;
  double warm_up = 0.7;
  DType gate_dtype = DType::Float32;

  std::string name() const {
    return std::string(dtype_name(dtype)) + " b" + std::to_string(batch) + " Hq" + std::to_string(q_heads) + " Hkv" +
           std::to_string(kv_heads) + " Lt" + std::to_string(Lt) + " Lv" + std::to_string(Lv) + " hd" +
           std::to_string(head_dim) + (padded ? " padded" : "") + " warm_up " + std::to_string(warm_up);
  }
};

// As the attention kernels' tests: P and dS rounded to the 16-bit type on the tensor cores.
Tolerance tolerance(DType t) {
  return t == DType::BFloat16 ? Tolerance{2e-2, 2e-2} : t == DType::Float16 ? Tolerance{4e-3, 4e-3} : Tolerance{1e-4, 1e-5};
}

struct Outputs {
  Tensor out, dq, dk, dv, dself, dgate, dwarm;
};

// Study 0 hides every fifth key, the last study every key, the others pad their tail.
Tensor padding_mask(const Case& c) {
  Tensor m = empty({c.batch, c.Lv}, DType::Bool);
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t j = 0; j < c.Lv; ++j)
      m.data<bool>()[b * c.Lv + j] = b == 0 ? j % 5 != 3 : b + 1 < c.batch && j < c.Lv - 3 * b;
  return m;
}

Outputs run(const Case& c, const Device& dev) {
  auto leaf = [&](const Shape& shape, uint64_t seed, DType dtype, double lo, double hi) {
    Tensor t = detach(to_device(convert(random(shape, seed, lo, hi), dtype), dev));
    t.set_requires_grad();
    return t;
  };
  const Shape q_shape{c.batch, c.q_heads, c.Lt, c.head_dim}, kv_shape{c.batch, c.kv_heads, c.Lv, c.head_dim};
  Tensor q = leaf(q_shape, 1, c.dtype, -2, 2), k = leaf(kv_shape, 2, c.dtype, -2, 2), v = leaf(kv_shape, 3, c.dtype, -2, 2);
  Tensor self_out = leaf(q_shape, 4, c.dtype, -1, 1), gate = leaf({c.batch, c.Lt, 1}, 5, c.gate_dtype, -2, 2);
  Tensor warm_up = detach(to_device(full({1}, c.warm_up, DType::Float32), dev));
  warm_up.set_requires_grad();
  const Tensor mask = c.padded ? to_device(padding_mask(c), dev) : Tensor();
  if (dev == kGpu) poison({{q_shape, c.dtype}, {Shape{c.batch, c.q_heads, c.Lt}, DType::Float32}});
  const Tensor out = gated_cross_attention(q, k, v, self_out, gate, warm_up, mask);
  const Tensor w = to_device(convert(random(q_shape, 6), c.dtype), dev);
  if (dev == kGpu)
    poison({{q_shape, c.dtype},
            {kv_shape, c.dtype},
            {Shape{c.batch, c.q_heads, c.Lt}, DType::Float32},
            {Shape{c.batch, c.Lt}, DType::Float32}});
  autograd::backward(sum(mul(out, w)));
  return {out, q.grad(), k.grad(), v.grad(), self_out.grad(), gate.grad(), warm_up.grad()};
}

void expect_same_as_cpu(const Case& c) {
  const Outputs cpu = run(c, Device::cpu()), gpu = run(c, kGpu);
  const Tolerance tol = tolerance(c.dtype);
  expect_close(gpu.out, cpu.out, tol, c.name() + " out");
  expect_close(gpu.dq, cpu.dq, tol, c.name() + " dq");
  expect_close(gpu.dk, cpu.dk, tol, c.name() + " dk");
  expect_close(gpu.dv, cpu.dv, tol, c.name() + " dv");
  expect_close(gpu.dself, cpu.dself, Tolerance{0, 0}, c.name() + " dself_out");
  expect_close(gpu.dgate, cpu.dgate, tol, c.name() + " dgate_logit");
  expect_close(gpu.dwarm, cpu.dwarm, tol, c.name() + " dwarm_up");
}

void expect_zero(const Tensor& t, const std::string& what) {
  for (double x : to_device(t, Device::cpu()).to_vector<double>()) ASSERT_EQ(x, 0.0) << what;
}

class GatedCrossAttentionKernels : public ::testing::Test {
 protected:
  void SetUp() override { register_cuda(); }
};

TEST_F(GatedCrossAttentionKernels, TensorCores) {
  const DType bf16 = DType::BFloat16, f16 = DType::Float16;
  for (const Case& c : {Case{3, 2, 1, 70, 70, 64, bf16, true},  // GQA, padded, one study without visual tokens
                        Case{1, 2, 1, 17, 70, 128, f16, false, -0.4, bf16},
                        Case{1, 1, 1, 300, 20, 64, bf16, true, 1.2}})  // two blocks of the gates kernel
    expect_same_as_cpu(c);
}

TEST_F(GatedCrossAttentionKernels, WarpPerRowPaths) {
  for (const Case& c : {Case{3, 2, 1, 20, 17, 40, DType::Float32, true},
                        Case{1, 2, 2, 1, 17, 64, DType::Float32, false, -0.9}})  // one text token: not the decode path
    expect_same_as_cpu(c);
}

TEST_F(GatedCrossAttentionKernels, ClosedWarmUpGateStartsAsThePretrainedLayer) {
  for (const Case& c : {Case{2, 2, 1, 70, 70, 64, DType::BFloat16, true, 0.0},
                        Case{2, 2, 1, 20, 17, 40, DType::Float32, true, 0.0}}) {
    const Outputs gpu = run(c, kGpu), cpu = run(c, Device::cpu());
    const Tensor self_out = convert(random({c.batch, c.q_heads, c.Lt, c.head_dim}, 4, -1, 1), c.dtype);
    expect_same_bits(gpu.out, self_out, c.name() + " out is self_out");
    const std::vector<std::pair<Tensor, std::string>> zero_grads{
        {gpu.dq, "dq"}, {gpu.dk, "dk"}, {gpu.dv, "dv"}, {gpu.dgate, "dgate_logit"}};
    for (const auto& [t, what] : zero_grads) expect_zero(t, c.name() + " " + what);
    expect_close(gpu.dwarm, cpu.dwarm, tolerance(c.dtype), c.name() + " dwarm_up");  // the gate itself learns
  }
}

TEST_F(GatedCrossAttentionKernels, BackwardIsDeterministic) {
  const Case c{1, 2, 1, 300, 20, 64, DType::BFloat16, true};
  const Outputs a = run(c, kGpu), b = run(c, kGpu);
  expect_same_bits(a.out, b.out, "out");
  expect_same_bits(a.dq, b.dq, "dq");
  expect_same_bits(a.dk, b.dk, "dk");
  expect_same_bits(a.dv, b.dv, "dv");
  expect_same_bits(a.dgate, b.dgate, "dgate_logit");
  expect_same_bits(a.dwarm, b.dwarm, "dwarm_up");
}

}  // namespace
}  // namespace emrrg
