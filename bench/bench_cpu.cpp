// CPU benchmarks of the foundation: matmul through the framework against a direct OpenBLAS
// call (the measured peak the framework should reach), and a large elementwise add against
// memcpy bandwidth.
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

BENCHMARK(BM_matmul_framework)->Arg(256)->Arg(512)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_matmul_openblas)->Arg(256)->Arg(512)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_linear_framework)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_add_elementwise)->Arg(1 << 24)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_memcpy_peak)->Arg(1 << 24)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
