// CPU benchmarks of the foundation: matmul through the framework against a direct OpenBLAS
// call (the measured peak the framework should reach), a large elementwise add against
// memcpy bandwidth, and causal attention (tiled, forward and forward + backward) next to the
// same attention composed of OpenBLAS matmuls and softmax, and the LoRA linear (fused, beside
// its base GEMM alone and beside the same LoRA composed of three linear() calls), and the gated
// cross-attention beside the same layer composed of attention, tanh, mul and add.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstring>
#include <vector>

#include "ops/ops.h"

namespace {

using namespace emrrg;

void set_flops(benchmark::State& state, double flops_per_iter) {
  state.counters["FLOP/s"] = benchmark::Counter(flops_per_iter, benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}

void BM_matmul_framework(benchmark::State& state) {
  const int64_t n = state.range(0);
  Generator gen(1);
  Tensor a = rand_uniform({n, n}, -1, 1, gen), b = rand_uniform({n, n}, -1, 1, gen);
  autograd::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(matmul(a, b).raw_data());
  set_flops(state, 2.0 * n * n * n);
}

void BM_matmul_openblas(benchmark::State& state) {
  const int64_t n = state.range(0);
  Generator gen(1);
  Tensor a = rand_uniform({n, n}, -1, 1, gen), b = rand_uniform({n, n}, -1, 1, gen);
  std::vector<float> c(static_cast<size_t>(n * n));
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data<float>(), n, b.data<float>(), n,
                0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  set_flops(state, 2.0 * n * n * n);
}

// A linear layer's layout: x @ W^T with W [out, in] passed to BLAS transposed, not copied.
void BM_linear_framework(benchmark::State& state) {
  const int64_t n = state.range(0);
  Generator gen(1);
  Tensor x = rand_uniform({n, n}, -1, 1, gen), w = rand_uniform({n, n}, -1, 1, gen);
  autograd::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(linear(x, w).raw_data());
  set_flops(state, 2.0 * n * n * n);
}

// 3 x 4 bytes move per element (two reads, one write).
void BM_add_elementwise(benchmark::State& state) {
  const int64_t n = state.range(0);
  Generator gen(2);
  Tensor a = rand_uniform({n}, -1, 1, gen), b = rand_uniform({n}, -1, 1, gen);
  autograd::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(add(a, b).raw_data());
  state.SetBytesProcessed(state.iterations() * n * 12);
}

// The reference bandwidth: memcpy of the same amount of data (one read, one write per 8 bytes).
void BM_memcpy_peak(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::vector<float> src(static_cast<size_t>(n), 1.0f), dst(static_cast<size_t>(n));
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), static_cast<size_t>(n) * 4);
    benchmark::DoNotOptimize(dst.data());
  }
  state.SetBytesProcessed(state.iterations() * n * 8);
}

// Causal attention at a Llama-like head shape: batch 1, 8 q heads over 2 kv heads, head dim 64,
// float32. FLOPs count the visible half of the score matrix: 4 L^2 hd / 2 per head forward
// (QK^T and PV), 3.5x that for forward + backward (with the backward's five products).
constexpr int64_t kAttnHeads = 8, kAttnKvHeads = 2, kAttnHeadDim = 64;

struct AttentionInputs {
  Tensor q, k, v;
};
AttentionInputs attention_inputs(int64_t L, bool requires_grad) {
  Generator gen(3);
  AttentionInputs in{rand_uniform({1, kAttnHeads, L, kAttnHeadDim}, -1, 1, gen),
                     rand_uniform({1, kAttnKvHeads, L, kAttnHeadDim}, -1, 1, gen),
                     rand_uniform({1, kAttnKvHeads, L, kAttnHeadDim}, -1, 1, gen)};
  for (Tensor* t : {&in.q, &in.k, &in.v}) t->set_requires_grad(requires_grad);
  return in;
}
double attention_forward_flops(int64_t L) { return 4.0 * kAttnHeads * L * L * kAttnHeadDim / 2; }

void BM_attention_forward(benchmark::State& state) {
  const AttentionInputs in = attention_inputs(state.range(0), false);
  for (auto _ : state) benchmark::DoNotOptimize(attention(in.q, in.k, in.v, true).out.raw_data());
  set_flops(state, attention_forward_flops(state.range(0)));
}

void BM_attention_forward_backward(benchmark::State& state) {
  const AttentionInputs in = attention_inputs(state.range(0), true);
  for (auto _ : state) {
    autograd::backward(sum(attention(in.q, in.k, in.v, true).out));
    benchmark::DoNotOptimize(in.q.grad().raw_data());
    for (const Tensor* t : {&in.q, &in.k, &in.v}) t->impl()->grad.reset();
  }
  set_flops(state, 3.5 * attention_forward_flops(state.range(0)));
}

// The reference: softmax(QK^T / sqrt(hd) + causal mask) V with the kv heads repeated, the
// L x L scores materialised, OpenBLAS for the products.
void BM_attention_naive_forward(benchmark::State& state) {
  const int64_t L = state.range(0);
  const AttentionInputs in = attention_inputs(L, false);
  std::vector<int64_t> kv_of_q;
  for (int64_t h = 0; h < kAttnHeads; ++h) kv_of_q.push_back(h / (kAttnHeads / kAttnKvHeads));
  const Tensor idx = from_vector(kv_of_q, {kAttnHeads});
  std::vector<uint8_t> hidden(static_cast<size_t>(L * L));
  for (int64_t i = 0; i < L; ++i)
    for (int64_t j = i + 1; j < L; ++j) hidden[i * L + j] = 1;
  const Tensor mask = from_vector(hidden, {L, L}, DType::Bool);
  for (auto _ : state) {
    Tensor s = mul(matmul(in.q, transpose(index_select(in.k, 1, idx), 2, 3)), 1.0 / 8.0);
    Tensor out = matmul(softmax(masked_fill(s, mask, -1e30), -1), index_select(in.v, 1, idx));
    benchmark::DoNotOptimize(out.raw_data());
  }
  set_flops(state, attention_forward_flops(L));
}

// A LoRA linear at a Llama projection's shape: 512 tokens, 4096 -> 4096, rank 32, float32, W
// frozen. FLOPs: 2 N in out for the base GEMM plus 2 N r (in + out) for the adapter; the backward
// costs the base's dx (2 N in out) plus twice the adapter (dh and dB, dA and dh A).
constexpr int64_t kLoraTokens = 512, kLoraIn = 4096, kLoraOut = 4096, kLoraRank = 32;
constexpr double kLoraScale = 2.0;

struct LoraInputs {
  Tensor x, w, a, b;
};
LoraInputs lora_inputs(bool requires_grad) {
  Generator gen(4);
  LoraInputs in{rand_uniform({kLoraTokens, kLoraIn}, -1, 1, gen), rand_uniform({kLoraOut, kLoraIn}, -0.02, 0.02, gen),
                rand_uniform({kLoraRank, kLoraIn}, -0.02, 0.02, gen),
                rand_uniform({kLoraOut, kLoraRank}, -0.02, 0.02, gen)};
  for (Tensor* t : {&in.x, &in.a, &in.b}) t->set_requires_grad(requires_grad);
  return in;
}
constexpr double kLoraBaseFlops = 2.0 * kLoraTokens * kLoraIn * kLoraOut;
constexpr double kLoraAdapterFlops = 2.0 * kLoraTokens * kLoraRank * (kLoraIn + kLoraOut);

enum LoraVariant { kFused, kBaseOnly, kUnfused };
Tensor lora_variant(const LoraInputs& in, int64_t variant) {
  if (variant == kFused) return lora_linear(in.x, in.w, Tensor(), in.a, in.b, kLoraScale);
  if (variant == kBaseOnly) return linear(in.x, in.w);
  return add(linear(in.x, in.w), mul(linear(linear(in.x, in.a), in.b), kLoraScale));
}

// Arg: LoraVariant. The base GEMM alone is the floor; the unfused formula is what the op replaces.
void BM_lora_linear_forward(benchmark::State& state) {
  const LoraInputs in = lora_inputs(false);
  for (auto _ : state) benchmark::DoNotOptimize(lora_variant(in, state.range(0)).raw_data());
  set_flops(state, kLoraBaseFlops + (state.range(0) == kBaseOnly ? 0 : kLoraAdapterFlops));
}

// Forward + backward to dx, dA and dB (dx only for the base GEMM); never dW.
void BM_lora_linear_forward_backward(benchmark::State& state) {
  const LoraInputs in = lora_inputs(true);
  const Tensor g = full({kLoraTokens, kLoraOut}, 1e-3);
  for (auto _ : state) {
    autograd::backward(lora_variant(in, state.range(0)), g);
    benchmark::DoNotOptimize(in.x.grad().raw_data());
    for (const Tensor* t : {&in.x, &in.a, &in.b}) t->impl()->grad.reset();
  }
  set_flops(state, 2 * kLoraBaseFlops + (state.range(0) == kBaseOnly ? 0 : 3 * kLoraAdapterFlops));
}

// Gated cross-attention at one sample of the paper's shape: Llama-2-7B's 32 heads of dim 128
// (no GQA), 300 text tokens over 197 visual tokens, float32, warm-up gate 0.5. FLOPs: 4 Lt Lv hd
// per head forward, 3.5x that for forward + backward.
constexpr int64_t kGxaHeads = 32, kGxaHeadDim = 128, kGxaText = 300, kGxaVisual = 197;

std::vector<Tensor> gated_inputs() {
  Generator gen(5);
  std::vector<Tensor> in{rand_uniform({1, kGxaHeads, kGxaText, kGxaHeadDim}, -1, 1, gen),
                         rand_uniform({1, kGxaHeads, kGxaVisual, kGxaHeadDim}, -1, 1, gen),
                         rand_uniform({1, kGxaHeads, kGxaVisual, kGxaHeadDim}, -1, 1, gen),
                         rand_uniform({1, kGxaHeads, kGxaText, kGxaHeadDim}, -1, 1, gen),
                         rand_uniform({1, kGxaText, 1}, -2, 2, gen), full({1}, 0.5)};
  for (Tensor& t : in) t.set_requires_grad(true);
  return in;
}

// Arg 0: the fused op; 1: attention(...).out * tanh(gate) * tanh(w) + self_out from separate ops.
Tensor gated_variant(const std::vector<Tensor>& x, int64_t variant) {
  if (variant == 0) return gated_cross_attention(x[0], x[1], x[2], x[3], x[4], x[5]);
  const Tensor cross = attention(x[0], x[1], x[2], false).out;
  return add(x[3], mul(mul(cross, unsqueeze(tanh(x[4]), 1)), tanh(x[5])));
}

void BM_gated_cross_attention_forward_backward(benchmark::State& state) {
  const std::vector<Tensor> in = gated_inputs();
  const Tensor g = full({1, kGxaHeads, kGxaText, kGxaHeadDim}, 1e-3);
  for (auto _ : state) {
    autograd::backward(gated_variant(in, state.range(0)), g);
    benchmark::DoNotOptimize(in[0].grad().raw_data());
    for (const Tensor& t : in) t.impl()->grad.reset();
  }
  set_flops(state, 3.5 * 4.0 * kGxaHeads * kGxaText * kGxaVisual * kGxaHeadDim);
}

BENCHMARK(BM_matmul_framework)->Arg(256)->Arg(512)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_matmul_openblas)->Arg(256)->Arg(512)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_linear_framework)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_add_elementwise)->Arg(1 << 24)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_memcpy_peak)->Arg(1 << 24)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_attention_forward)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_attention_forward_backward)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_attention_naive_forward)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_gated_cross_attention_forward_backward)
    ->ArgName("fused0_composed1")->DenseRange(0, 1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_lora_linear_forward)
    ->ArgName("fused0_base1_unfused2")->DenseRange(0, 2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_lora_linear_forward_backward)
    ->ArgName("fused0_base1_unfused2")->DenseRange(0, 2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
