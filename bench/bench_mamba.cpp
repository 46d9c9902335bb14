// CPU benchmarks of the Mamba ops at Vision Mamba's shapes: 8 images of 197 tokens, d_inner 384
// (Vim-tiny) and 1536 (Vim-base's 768 x expand 2), d_state 16, with D, z, delta_bias and softplus,
// float32. bench/pytorch/bench_selective_scan.py times the same computation in PyTorch eager.
// Arguments: {d_inner, threads}. items/s counts state updates (batch x d_inner x L x N);
// bytes/s counts the tensors read and written once each.
#include <benchmark/benchmark.h>

#include "ops/ops.h"
#include "runtime/threading.h"

namespace {

using namespace emrrg;

constexpr int64_t kBatch = 8, kL = 197, kN = 16;

struct ScanInputs {
  Tensor u, delta, A, B, C, D, z, delta_bias;
};

ScanInputs make_inputs(int64_t d_inner, bool requires_grad) {
  Generator gen(1);
  ScanInputs s;
  s.u = rand_uniform({kBatch, d_inner, kL}, -1, 1, gen);
  s.delta = rand_uniform({kBatch, d_inner, kL}, -1, 1, gen);
  s.A = rand_uniform({d_inner, kN}, -16, -1, gen);
  s.B = rand_uniform({kBatch, 1, kN, kL}, -1, 1, gen);
  s.C = rand_uniform({kBatch, 1, kN, kL}, -1, 1, gen);
  s.D = rand_uniform({d_inner}, -1, 1, gen);
  s.z = rand_uniform({kBatch, d_inner, kL}, -1, 1, gen);
  s.delta_bias = rand_uniform({d_inner}, -4.5, -2.5, gen);
  for (Tensor* t : {&s.u, &s.delta, &s.A, &s.B, &s.C, &s.D, &s.z, &s.delta_bias}) t->set_requires_grad(requires_grad);
  return s;
}

SelectiveScanResult run_scan(const ScanInputs& s) {
  return selective_scan(s.u, s.delta, s.A, s.B, s.C, s.D, s.z, s.delta_bias, true);
}

// Bytes of u, delta, z, B, C read and out written (forward), plus dout read and du, ddelta, dz,
// dB, dC written (backward), float32: each tensor once, the floor a fused kernel approaches.
double scan_bytes(int64_t d_inner, bool backward) {
  const double per_token = 4.0 * kBatch * kL;
  const double io = per_token * (d_inner * 4 + 2 * kN);
  return backward ? io + per_token * (d_inner * 4 + 2 * kN) : io;
}

void set_counters(benchmark::State& state, int64_t d_inner, bool backward) {
  state.SetItemsProcessed(state.iterations() * kBatch * d_inner * kL * kN);
  state.SetBytesProcessed(static_cast<int64_t>(static_cast<double>(state.iterations()) * scan_bytes(d_inner, backward)));
}

void BM_selective_scan_forward(benchmark::State& state) {
  const int64_t d_inner = state.range(0);
  set_num_threads(static_cast<int>(state.range(1)));
  const ScanInputs s = make_inputs(d_inner, false);
  for (auto _ : state) benchmark::DoNotOptimize(run_scan(s).out.raw_data());
  set_counters(state, d_inner, false);
}

void BM_selective_scan_forward_backward(benchmark::State& state) {
  const int64_t d_inner = state.range(0);
  set_num_threads(static_cast<int>(state.range(1)));
  ScanInputs s = make_inputs(d_inner, true);
  Generator gen(2);
  const Tensor dout = rand_uniform({kBatch, d_inner, kL}, -1, 1, gen);
  for (auto _ : state) {
    autograd::backward(run_scan(s).out, dout);
    benchmark::DoNotOptimize(s.u.grad().raw_data());
    for (Tensor* t : {&s.u, &s.delta, &s.A, &s.B, &s.C, &s.D, &s.z, &s.delta_bias}) t->set_grad(Tensor());
  }
  set_counters(state, d_inner, true);
}

// Mamba's conv (width 4, bias, SiLU) on the same [8, d_inner, 197] activations.
void BM_causal_conv1d_forward_backward(benchmark::State& state) {
  const int64_t d_inner = state.range(0);
  set_num_threads(static_cast<int>(state.range(1)));
  Generator gen(3);
  Tensor x = rand_uniform({kBatch, d_inner, kL}, -1, 1, gen), w = rand_uniform({d_inner, 1, 4}, -1, 1, gen);
  Tensor b = rand_uniform({d_inner}, -1, 1, gen), dout = rand_uniform({kBatch, d_inner, kL}, -1, 1, gen);
  for (Tensor* t : {&x, &w, &b}) t->set_requires_grad(true);
  for (auto _ : state) {
    autograd::backward(causal_conv1d(x, w, b, true), dout);
    benchmark::DoNotOptimize(x.grad().raw_data());
    for (Tensor* t : {&x, &w, &b}) t->set_grad(Tensor());
  }
  // x, out, dout, dx once each.
  state.SetBytesProcessed(state.iterations() * 4 * 4 * kBatch * d_inner * kL);
}

}  // namespace

// {d_inner, threads}: 2 threads as the PyTorch script uses, 1 for a number that a shared machine
// disturbs less.
void vim_shapes(benchmark::internal::Benchmark* b) {
  for (int64_t d_inner : {384, 1536})
    for (int64_t threads : {1, 2}) b->Args({d_inner, threads});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_selective_scan_forward)->Apply(vim_shapes);
BENCHMARK(BM_selective_scan_forward_backward)->Apply(vim_shapes);
BENCHMARK(BM_causal_conv1d_forward_backward)->Apply(vim_shapes);
BENCHMARK_MAIN();
