// CPU benchmarks of the foundation: matmul through the framework against a direct OpenBLAS
// call (the measured peak the framework should reach), a large elementwise add against
// memcpy bandwidth, and causal attention (tiled, forward and forward + backward) next to the
// same attention composed of OpenBLAS matmuls and softmax.
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

BENCHMARK(BM_matmul_framework)->Arg(256)->Arg(512)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_matmul_openblas)->Arg(256)->Arg(512)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_linear_framework)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_add_elementwise)->Arg(1 << 24)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_memcpy_peak)->Arg(1 << 24)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_attention_forward)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_attention_forward_backward)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_attention_naive_forward)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
