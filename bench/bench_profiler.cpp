// What the op profiler (runtime/profiler.h) costs. Off, an op pays one relaxed atomic load and
// a branch in autograd::record() (and again in an OpRange): compare BM_hooks_off, the hooks of
// one op call with the profiler off, against BM_no_hooks (the same loop without them) and
// against BM_small_op, a whole op call on one-element tensors. On, BM_small_op_traced shows the
// cost of recording an op event with its shapes.
#include <benchmark/benchmark.h>

#include "ops/ops.h"
#include "runtime/profiler.h"

namespace {

using namespace emrrg;

void BM_no_hooks(benchmark::State& state) {
  int64_t calls = 0;
  for (auto _ : state) benchmark::DoNotOptimize(++calls);
}

void BM_hooks_off(benchmark::State& state) {
  const std::vector<Tensor> none;
  int64_t calls = 0;
  for (auto _ : state) {
    const profiler::OpRange range("matmul", [&] { return profiler::Cost{1, 1}; });
    if (profiler::active()) profiler::op_mark("matmul", none, none);
    benchmark::DoNotOptimize(++calls);
  }
}

void BM_small_op(benchmark::State& state) {
  const Tensor a = full({1}, 1.0), b = full({1}, 2.0);
  autograd::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(add(a, b).raw_data());
}

void BM_small_op_traced(benchmark::State& state) {
  const Tensor a = full({1}, 1.0), b = full({1}, 2.0);
  autograd::NoGradGuard no_grad;
  profiler::Session session({"", 0, 0});
  for (auto _ : state) benchmark::DoNotOptimize(add(a, b).raw_data());
  session.finish();
}

BENCHMARK(BM_no_hooks);
BENCHMARK(BM_hooks_off);
BENCHMARK(BM_small_op);
// Bounded: every traced call keeps an event until the session ends.
BENCHMARK(BM_small_op_traced)->Iterations(200000);

}  // namespace

BENCHMARK_MAIN();
