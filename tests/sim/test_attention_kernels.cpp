// The attention kernels (cuda/kernels/attention.cu) against the CPU op (ops/attention.cpp)
// through autograd: out, lse and the gradients of q, k and v. The tensor-core kernels
// (attention_forward_tc_kernel, attention_dq_tc_kernel, attention_dkdv_tc_kernel) run for
// bf16/fp16 at head dims 64 and 128; float32 and other head dims take the warp-per-row
// kernels (attention_forward_simt_kernel, attention_dq_simt_kernel, attention_dkdv_simt_kernel);
// Lq = 1 decodes with attention_decode_split_kernel and attention_decode_combine_kernel; every
// backward starts with attention_delta_kernel. Lengths 1, 17, 20 and 70 cross the 64-row and
// 32-row tiles; causal with Lq < Lk (a KV cache) and Lq > Lk (rows that see no key: lse -inf,
// out 0); key padding; grouped-query heads; outputs poisoned first.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/sim/row_kernel_test_util.h"

namespace emrrg {
namespace {

using namespace row_kernel_test;

struct Case {
  int64_t batch, q_heads, kv_heads, Lq, Lk, head_dim;
  bool causal, padded;
  DType dtype;
  bool permuted = false;  // q, k, v as [b, L, heads, hd] viewed as [b, heads, L, hd]

  std::string name() const {
    return std::string(dtype_name(dtype)) + " b" + std::to_string(batch) + " Hq" + std::to_string(q_heads) + " Hkv" +
           std::to_string(kv_heads) + " Lq" + std::to_string(Lq) + " Lk" + std::to_string(Lk) + " hd" +
           std::to_string(head_dim) + (causal ? " causal" : "") + (padded ? " padded" : "") + (permuted ? " permuted" : "");
  }
};

// bf16/fp16: P and dS are rounded to the 16-bit type for the tensor cores and the outputs to it
// at the end; float32: sums in another order.
Tolerance tolerance(DType t) {
  return t == DType::BFloat16 ? Tolerance{2e-2, 2e-2} : t == DType::Float16 ? Tolerance{4e-3, 4e-3} : Tolerance{1e-4, 1e-5};
}

struct Outputs {
  Tensor out, lse, dq, dk, dv;
};

Tensor input(const Case& c, int64_t heads, int64_t L, uint64_t seed) {
  if (!c.permuted) return convert(random({c.batch, heads, L, c.head_dim}, seed), c.dtype);
  return convert(random({c.batch, L, heads, c.head_dim}, seed), c.dtype);
}

// Batch 0 hides a few keys in the middle, the others pad their tail; never every key of a row.
Tensor padding_mask(const Case& c) {
  Tensor m = empty({c.batch, c.Lk}, DType::Bool);
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t j = 0; j < c.Lk; ++j)
      m.data<bool>()[b * c.Lk + j] = b == 0 ? (j % 5 != 3) : (j < c.Lk - 3 * b || j == 0);
  return m;
}

Outputs run(const Case& c, const Device& dev) {
  auto leaf = [&](int64_t heads, int64_t L, uint64_t seed) {
    Tensor t = detach(to_device(input(c, heads, L, seed), dev));
    t.set_requires_grad();
    return t;
  };
  Tensor q = leaf(c.q_heads, c.Lq, 1), k = leaf(c.kv_heads, c.Lk, 2), v = leaf(c.kv_heads, c.Lk, 3);
  auto view = [&](const Tensor& t) { return c.permuted ? permute(t, {0, 2, 1, 3}) : t; };
  const Tensor mask = c.padded ? to_device(padding_mask(c), dev) : Tensor();
  const Shape q_shape{c.batch, c.q_heads, c.Lq, c.head_dim}, kv_shape{c.batch, c.kv_heads, c.Lk, c.head_dim};
  if (dev == kGpu)
    poison({{q_shape, c.dtype}, {Shape{c.batch, c.q_heads, c.Lq}, DType::Float32}});
  AttentionResult r = attention(view(q), view(k), view(v), c.causal, mask);
  const Tensor w = to_device(convert(random(q_shape, 4), c.dtype), dev);
  if (dev == kGpu) poison({{q_shape, c.dtype}, {kv_shape, c.dtype}, {Shape{c.batch, c.q_heads, c.Lq}, DType::Float32}});
  autograd::backward(sum(mul(r.out, w)));
  return {r.out, r.lse, q.grad(), k.grad(), v.grad()};
}

void expect_zero(const Tensor& t, const std::string& what) {
  for (double x : to_device(t, Device::cpu()).to_vector<double>()) ASSERT_EQ(x, 0.0) << what;
}

void expect_same_as_cpu(const Case& c) {
  const Outputs cpu = run(c, Device::cpu()), gpu = run(c, kGpu);
  const Tolerance tol = tolerance(c.dtype);
  expect_close(gpu.out, cpu.out, tol, c.name() + " out");
  expect_close(gpu.lse, cpu.lse, Tolerance{1e-3, 1e-4}, c.name() + " lse");
  expect_close(gpu.dv, cpu.dv, tol, c.name() + " dv");
  if (c.Lk == 1) {  // a softmax over one key is constant: q and k get no gradient
    expect_zero(gpu.dq, c.name() + " dq");
    expect_zero(gpu.dk, c.name() + " dk");
    return;
  }
  expect_close(gpu.dq, cpu.dq, tol, c.name() + " dq");
  expect_close(gpu.dk, cpu.dk, tol, c.name() + " dk");
}

class AttentionKernels : public ::testing::Test {
 protected:
  void SetUp() override { register_cuda(); }
};

TEST_F(AttentionKernels, TensorCoresHeadDim64) {
  const DType bf16 = DType::BFloat16, f16 = DType::Float16;
  for (const Case& c : {Case{2, 2, 1, 70, 70, 64, true, true, bf16},  // two 64-row tiles, GQA, padded
                        Case{1, 2, 2, 17, 70, 64, true, false, f16},  // a KV cache: queries at the end
                        Case{1, 2, 1, 70, 17, 64, false, true, bf16, true},
                        Case{1, 1, 1, 20, 5, 64, true, false, bf16}})  // rows 0..15 see no key
    expect_same_as_cpu(c);
}

TEST_F(AttentionKernels, TensorCoresHeadDim128) {
  for (const Case& c : {Case{2, 2, 1, 20, 20, 128, true, true, DType::BFloat16},
                        Case{1, 2, 2, 17, 33, 128, false, false, DType::Float16}})
    expect_same_as_cpu(c);
}

TEST_F(AttentionKernels, WarpPerRowPaths) {
  for (const Case& c : {Case{2, 2, 1, 20, 20, 40, true, true, DType::Float32},  // GQA, padded
                        Case{1, 2, 1, 17, 5, 64, true, false, DType::Float32},  // rows that see no key
                        Case{1, 1, 1, 1, 1, 8, false, false, DType::Float32},
                        Case{1, 2, 2, 17, 17, 48, true, false, DType::BFloat16, true}})  // bf16 off the tensor cores
    expect_same_as_cpu(c);
}

TEST_F(AttentionKernels, DecodeOneTokenAgainstACache) {
  // 520 keys: three parts of 174 keys to combine.
  for (const Case& c : {Case{1, 2, 1, 1, 520, 128, true, true, DType::BFloat16},
                        Case{1, 2, 2, 1, 40, 64, true, false, DType::Float32},
                        Case{1, 1, 1, 1, 1, 64, true, false, DType::Float16}})
    expect_same_as_cpu(c);
}

TEST_F(AttentionKernels, BackwardIsDeterministic) {
  const Case c{1, 4, 1, 70, 70, 64, true, true, DType::BFloat16};
  const Outputs a = run(c, kGpu), b = run(c, kGpu);
  expect_same_bits(a.dq, b.dq, "dq");
  expect_same_bits(a.dk, b.dk, "dk");
  expect_same_bits(a.dv, b.dv, "dv");
}

}  // namespace
}  // namespace emrrg
