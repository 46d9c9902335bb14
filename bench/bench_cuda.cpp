// CUDA benchmarks (a GPU is needed: built only with EMRRG_CUDA=ON; tests/gpu/run.sh runs them).
// Attention: the flash kernels' TFLOP/s (issue goal: >= 0.9x PyTorch's scaled_dot_product_attention
// flash backend on the same GPU) and decoding's GB/s against the copy bandwidth.
// EMRRG: gated cross-attention at the paper's shapes, and the LoRA-fused linear beside cuBLAS's
// base GEMM alone (goal: <= 10% slower) and beside the unfused three-GEMM LoRA (goal: >= 1.3x).
// Each reports achieved GB/s or TFLOP/s and, for memory-bound kernels, the fraction of the
// device's measured peak: a large device-to-device copy for bandwidth, a large cuBLAS GEMM for
// compute. Goal on an H200: memory-bound kernels at >= 80% of copy bandwidth at >= 256 MB.
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <array>
#include <functional>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/cuda_check.h"
#include "cuda/gemm.h"
#include "cuda/kernels/attention.h"
#include "cuda/kernels/gated_cross_attention.h"
#include "cuda/kernels/lora_linear.h"
#include "cuda/kernel_registration.h"
#include "cuda/kernels/selective_scan.h"
#include "ops/ops.h"
#include "train/optimizer.h"

namespace {

using namespace emrrg;

const Device kGpu = Device::cuda(0);
constexpr int64_t kBytes = int64_t{256} << 20;  // 256 MiB per operand

void setup() {
  cuda::register_cuda_backend();
  cuda::register_cuda_kernels();
}

// Device time of one call, from CUDA events.
double time_ms(const std::function<void()>& fn) {
  cudaEvent_t start, stop;
  EMRRG_CUDA_CHECK(cudaEventCreate(&start));
  EMRRG_CUDA_CHECK(cudaEventCreate(&stop));
  EMRRG_CUDA_CHECK(cudaEventRecord(start));
  fn();
  EMRRG_CUDA_CHECK(cudaEventRecord(stop));
  EMRRG_CUDA_CHECK(cudaEventSynchronize(stop));
  float ms = 0;
  EMRRG_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  EMRRG_CUDA_CHECK(cudaEventDestroy(start));
  EMRRG_CUDA_CHECK(cudaEventDestroy(stop));
  return ms;
}

// Bytes read + written per second by a device-to-device copy of kBytes: the bandwidth peak.
double measured_copy_gbps() {
  static const double gbps = [] {
    setup();
    void *a, *b;
    EMRRG_CUDA_CHECK(cudaMalloc(&a, kBytes));
    EMRRG_CUDA_CHECK(cudaMalloc(&b, kBytes));
    double best = 1e30;
    for (int i = 0; i < 10; ++i)
      best = std::min(best, time_ms([&] { EMRRG_CUDA_CHECK(cudaMemcpy(b, a, kBytes, cudaMemcpyDeviceToDevice)); }));
    EMRRG_CUDA_CHECK(cudaFree(a));
    EMRRG_CUDA_CHECK(cudaFree(b));
    return 2.0 * kBytes / (best * 1e-3) / 1e9;
  }();
  return gbps;
}

// Runs fn under device timing; `bytes` moved per call.
void run_memory_bound(benchmark::State& state, double bytes, const std::function<void()>& fn) {
  autograd::NoGradGuard no_grad;
  fn();  // warm-up: caching allocator, cuBLAS handle
  for (auto _ : state) state.SetIterationTime(time_ms(fn) * 1e-3);
  const double gbps = bytes * static_cast<double>(state.iterations()) / 1e9;
  state.counters["GB/s"] = benchmark::Counter(gbps, benchmark::Counter::kIsRate);
  state.counters["peak_GB/s"] = measured_copy_gbps();
}

void BM_copy_peak(benchmark::State& state) {
  setup();
  Tensor a = zeros({kBytes / 4}, DType::Float32, kGpu), b = zeros({kBytes / 4}, DType::Float32, kGpu);
  run_memory_bound(state, 2.0 * kBytes, [&] {
    EMRRG_CUDA_CHECK(cudaMemcpy(b.raw_data(), a.raw_data(), kBytes, cudaMemcpyDeviceToDevice));
  });
}

void BM_unary_exp(benchmark::State& state) {
  setup();
  Tensor x = full({kBytes / 4}, 0.5, DType::Float32, kGpu);
  run_memory_bound(state, 2.0 * kBytes, [&] { benchmark::DoNotOptimize(exp(x).raw_data()); });
}

void BM_binary_add(benchmark::State& state) {
  setup();
  Tensor a = full({kBytes / 4}, 0.5, DType::Float32, kGpu), b = full({kBytes / 4}, 1.5, DType::Float32, kGpu);
  run_memory_bound(state, 3.0 * kBytes, [&] { benchmark::DoNotOptimize(add(a, b).raw_data()); });
}

void BM_binary_add_broadcast_bf16(benchmark::State& state) {
  setup();
  const int64_t rows = kBytes / 2 / 4096;
  Tensor a = full({rows, 4096}, 0.5, DType::BFloat16, kGpu), b = full({4096}, 1.5, DType::BFloat16, kGpu);
  run_memory_bound(state, 2.0 * kBytes, [&] { benchmark::DoNotOptimize(add(a, b).raw_data()); });
}

void BM_sum_rows(benchmark::State& state) {
  setup();
  const int64_t n = state.range(0);
  Tensor x = full({kBytes / 4 / n, n}, 0.5, DType::Float32, kGpu);
  run_memory_bound(state, static_cast<double>(kBytes), [&] { benchmark::DoNotOptimize(sum(x, {1}).raw_data()); });
}

// Row kernels over 256 MiB of float32 rows of n: read once, write once.
void BM_softmax(benchmark::State& state) {
  setup();
  const int64_t n = state.range(0);
  Tensor x = full({kBytes / 4 / n, n}, 0.5, DType::Float32, kGpu);
  run_memory_bound(state, 2.0 * kBytes, [&] { benchmark::DoNotOptimize(softmax(x, -1).raw_data()); });
}

void BM_layer_norm(benchmark::State& state) {
  setup();
  const int64_t n = state.range(0);
  Tensor x = full({kBytes / 4 / n, n}, 0.5, DType::Float32, kGpu);
  Tensor w = ones({n}, DType::Float32, kGpu), b = zeros({n}, DType::Float32, kGpu);
  run_memory_bound(state, 2.0 * kBytes, [&] { benchmark::DoNotOptimize(layer_norm(x, w, b).raw_data()); });
}

void BM_rms_norm(benchmark::State& state) {
  setup();
  const int64_t n = state.range(0);
  Tensor x = full({kBytes / 4 / n, n}, 0.5, DType::Float32, kGpu);
  Tensor w = ones({n}, DType::Float32, kGpu);
  run_memory_bound(state, 2.0 * kBytes, [&] { benchmark::DoNotOptimize(rms_norm(x, w).raw_data()); });
}

// One AdamW step over 64 Mi float32 parameters: reads p, g, m, v and writes p, m, v.
void BM_adamw_step(benchmark::State& state) {
  setup();
  const int64_t n = kBytes / 4;
  Tensor p = full({n}, 0.5, DType::Float32, kGpu);
  p.set_requires_grad();
  p.set_grad(full({n}, 0.01, DType::Float32, kGpu));
  train::AdamW opt({p}, {});
  run_memory_bound(state, 7.0 * kBytes, [&] { opt.step(); });
}

void BM_cublas_gemm(benchmark::State& state) {
  setup();
  const int64_t n = state.range(0);
  const DType dtype = state.range(1) ? DType::BFloat16 : DType::Float32;
  Tensor a = full({n, n}, 0.01, dtype, kGpu), b = full({n, n}, 0.02, dtype, kGpu);
  Tensor c = empty({n, n}, dtype, kGpu);
  cuda::matmul_out(a, b, c);
  for (auto _ : state) state.SetIterationTime(time_ms([&] { cuda::matmul_out(a, b, c); }) * 1e-3);
  state.counters["TFLOP/s"] =
      benchmark::Counter(2.0 * n * n * n * static_cast<double>(state.iterations()) / 1e12, benchmark::Counter::kIsRate);
}

// Flash attention at a Llama-scale shape: batch 8, 32 heads, head dim 128, causal, bf16, L = range(0).
// FLOPs as FlashAttention counts them: 4 b h L^2 hd for the two forward GEMMs, halved by the
// causal mask; the backward does 2.5 times the forward's.
struct AttentionInputs {
  Tensor q, k, v;
  explicit AttentionInputs(int64_t L, int64_t kv_len = 0, int64_t batch = 8) {
    Generator gen(1);
    const int64_t Lk = kv_len ? kv_len : L;
    q = convert(to_device(rand_uniform({batch, 32, L, 128}, -1.0, 1.0, gen), kGpu), DType::BFloat16);
    k = convert(to_device(rand_uniform({batch, 32, Lk, 128}, -1.0, 1.0, gen), kGpu), DType::BFloat16);
    v = convert(to_device(rand_uniform({batch, 32, Lk, 128}, -1.0, 1.0, gen), kGpu), DType::BFloat16);
  }
};
constexpr double kAttentionScale = 0.08838834764831845;  // 1 / sqrt(128)

double causal_attention_flops(int64_t L) { return 4.0 * 8 * 32 * static_cast<double>(L) * L * 128 / 2; }

void BM_attention_forward(benchmark::State& state) {
  setup();
  const int64_t L = state.range(0);
  const AttentionInputs in(L);
  auto fn = [&] { benchmark::DoNotOptimize(cuda::attention_forward(in.q, in.k, in.v, true, Tensor(), kAttentionScale)); };
  fn();
  for (auto _ : state) state.SetIterationTime(time_ms(fn) * 1e-3);
  state.counters["TFLOP/s"] = benchmark::Counter(causal_attention_flops(L) * static_cast<double>(state.iterations()) / 1e12,
                                                 benchmark::Counter::kIsRate);
}

void BM_attention_forward_backward(benchmark::State& state) {
  setup();
  const int64_t L = state.range(0);
  const AttentionInputs in(L);
  const Tensor dout = in.q;  // any bf16 tensor of out's shape
  auto fn = [&] {
    const std::vector<Tensor> f = cuda::attention_forward(in.q, in.k, in.v, true, Tensor(), kAttentionScale);
    benchmark::DoNotOptimize(
        cuda::attention_backward(in.q, in.k, in.v, f[0], f[1], dout, true, Tensor(), kAttentionScale));
  };
  fn();
  for (auto _ : state) state.SetIterationTime(time_ms(fn) * 1e-3);
  state.counters["TFLOP/s"] = benchmark::Counter(
      3.5 * causal_attention_flops(L) * static_cast<double>(state.iterations()) / 1e12, benchmark::Counter::kIsRate);
}

// One new token per sequence against a KV cache of range(0) tokens at Llama-2-7B's attention
// shape (32 heads of 128, no GQA), batch range(1): memory-bound on reading the cache.
void BM_attention_decode(benchmark::State& state) {
  setup();
  const int64_t cached = state.range(0), batch = state.range(1);
  const AttentionInputs in(1, cached, batch);
  run_memory_bound(state, 2.0 * static_cast<double>(in.k.numel()) * 2, [&] {
    benchmark::DoNotOptimize(cuda::attention_forward(in.q, in.k, in.v, true, Tensor(), kAttentionScale));
  });
}

// Selective scan forward + backward at Vision Mamba's shapes: 8 images of 197 tokens, N 16,
// bfloat16, d_inner state.range(0). GB/s counts the floor's bytes (u, delta, z, out, du, ddelta,
// dz, B and C once each); x_floor is the time over that floor at the measured copy bandwidth
// (issue 8's goal on an H200: <= 1.5).
void BM_selective_scan_fwd_bwd(benchmark::State& state) {
  setup();
  const int64_t batch = 8, dim = state.range(0), L = 197, N = 16;
  Generator gen(1);
  auto random = [&](const Shape& shape, double lo, double hi, DType dtype) {
    return to_device(convert(rand_uniform(shape, lo, hi, gen), dtype), kGpu);
  };
  const DType bf16 = DType::BFloat16;
  const Shape x{batch, dim, L}, bc{batch, 1, N, L};
  const Tensor u = random(x, -1, 1, bf16), delta = random(x, -3, 1, bf16), z = random(x, -2, 2, bf16);
  const Tensor dout = random(x, -1, 1, bf16), A = random({dim, N}, -2, -0.1, DType::Float32);
  const Tensor B = random(bc, -1, 1, bf16), C = random(bc, -1, 1, bf16);
  const Tensor D = random({dim}, -1, 1, DType::Float32), bias = random({dim}, -1, 0.5, DType::Float32);
  const double x_bytes = 2.0 * static_cast<double>(shape_numel(x)), bc_bytes = 2.0 * static_cast<double>(shape_numel(bc));
  const double floor_bytes = 7 * x_bytes + 2 * bc_bytes;
  auto fwd_bwd = [&] {
    const std::vector<Tensor> f = cuda::selective_scan_forward(u, delta, A, B, C, D, z, bias, true);
    const std::vector<Tensor> g = cuda::selective_scan_backward(u, delta, A, B, C, D, z, bias, true, f[2], dout);
    benchmark::DoNotOptimize(g[0].raw_data());
  };
  fwd_bwd();  // warm-up: caching allocator
  double total_ms = 0;
  for (auto _ : state) {
    const double ms = time_ms(fwd_bwd);
    total_ms += ms;
    state.SetIterationTime(ms * 1e-3);
  }
  const double ms = total_ms / static_cast<double>(state.iterations());
  state.counters["GB/s"] = floor_bytes / (ms * 1e-3) / 1e9;
  state.counters["peak_GB/s"] = measured_copy_gbps();
  state.counters["x_floor"] = ms * 1e-3 / (floor_bytes / (measured_copy_gbps() * 1e9));
}

// The hybrid layers' gated cross-attention at the paper's shapes: 18 studies, 32 heads of 128
// (Llama-2-7B, no GQA), 300 text tokens over 197 visual tokens, bf16; forward (range(0) = 0) or
// forward + backward (1). FLOPs as for attention: 4 b h Lt Lv hd forward, 2.5 times that backward.
void BM_gated_cross_attention(benchmark::State& state) {
  setup();
  const bool backward = state.range(0) != 0;
  const int64_t batch = 18, heads = 32, Lt = 300, Lv = 197, hd = 128;
  Generator gen(1);
  auto bf16 = [&](const Shape& shape) {
    return convert(to_device(rand_uniform(shape, -1.0, 1.0, gen), kGpu), DType::BFloat16);
  };
  const Tensor q = bf16({batch, heads, Lt, hd}), k = bf16({batch, heads, Lv, hd}), v = bf16({batch, heads, Lv, hd});
  const Tensor self_out = bf16({batch, heads, Lt, hd}), dout = bf16({batch, heads, Lt, hd});
  const Tensor gate = to_device(rand_uniform({batch, Lt}, -1.0, 1.0, gen), kGpu);
  const Tensor warm_up = full({1}, 0.5, DType::Float32, kGpu);
  auto fn = [&] {
    const std::vector<Tensor> f =
        cuda::gated_cross_attention_forward(q, k, v, self_out, gate, warm_up, Tensor(), kAttentionScale);
    if (backward)
      benchmark::DoNotOptimize(cuda::gated_cross_attention_backward(q, k, v, gate, warm_up, f[1], f[2], dout, Tensor(),
                                                                    kAttentionScale));
  };
  fn();
  for (auto _ : state) state.SetIterationTime(time_ms(fn) * 1e-3);
  const double flops = (backward ? 3.5 : 1.0) * 4.0 * batch * heads * Lt * Lv * hd;
  state.counters["TFLOP/s"] =
      benchmark::Counter(flops * static_cast<double>(state.iterations()) / 1e12, benchmark::Counter::kIsRate);
}

// A LoRA linear of N = range(0) tokens, in = range(1), out = range(2), rank range(3), bf16 base and
// adapter, s = 2, no dropout; range(4): 0 the fused forward, 1 cuBLAS's base GEMM x W^T alone, 2 the
// unfused LoRA (x W^T, x A^T and h B^T on cuBLAS, then y + s u), 3 the fused forward + backward
// (dx, dA, dB). TFLOP/s counts the base GEMM's 2 N in out (times 3 with the backward).
void BM_lora_linear(benchmark::State& state) {
  setup();
  const int64_t N = state.range(0), in = state.range(1), out = state.range(2), r = state.range(3);
  const int64_t mode = state.range(4);
  Generator gen(1);
  auto bf16 = [&](const Shape& shape, double range) {
    return convert(to_device(rand_uniform(shape, -range, range, gen), kGpu), DType::BFloat16);
  };
  const Tensor x = bf16({N, in}, 1.0), w = bf16({out, in}, 0.02), a = bf16({r, in}, 0.02), b = bf16({out, r}, 0.02);
  const Tensor g = bf16({N, out}, 1.0), y = empty({N, out}, DType::BFloat16, kGpu);
  const Tensor wt = transpose(w, 0, 1), at = transpose(a, 0, 1), bt = transpose(b, 0, 1);
  const DeviceKernels::LoraScalars s{2.0, 0, LoraDropoutSite::Input, 1.0, 0, 0};
  autograd::NoGradGuard no_grad;
  auto fn = [&] {
    if (mode == 0) {
      benchmark::DoNotOptimize(cuda::lora_linear_forward(x, w, Tensor(), a, b, s));
    } else if (mode == 1) {
      cuda::matmul_out(x, wt, y);
    } else if (mode == 2) {
      cuda::matmul_out(x, wt, y);
      benchmark::DoNotOptimize(add(y, mul(cuda::matmul(cuda::matmul(x, at), bt), 2.0)));
    } else {
      const std::vector<Tensor> f = cuda::lora_linear_forward(x, w, Tensor(), a, b, s);
      benchmark::DoNotOptimize(cuda::lora_linear_backward(x, w, a, b, f[1], g, s, true, false));
    }
  };
  fn();
  for (auto _ : state) state.SetIterationTime(time_ms(fn) * 1e-3);
  const double flops = (mode == 3 ? 3.0 : 1.0) * 2.0 * N * in * out;
  state.counters["TFLOP/s"] =
      benchmark::Counter(flops * static_cast<double>(state.iterations()) / 1e12, benchmark::Counter::kIsRate);
}

void lora_shapes(benchmark::internal::Benchmark* b) {
  const std::vector<std::array<int64_t, 4>> shapes{
      {8192, 4096, 4096, 16}, {8192, 4096, 4096, 64}, {4096, 4096, 11008, 16}, {8192, 4096, 11008, 64}};
  for (const auto& [N, in, out, r] : shapes)
    for (int64_t mode = 0; mode < 4; ++mode) b->Args({N, in, out, r, mode});
}

BENCHMARK(BM_copy_peak)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_unary_exp)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_binary_add)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_binary_add_broadcast_bf16)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_sum_rows)->Arg(1024)->Arg(32768)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_softmax)->Arg(1024)->Arg(32000)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_layer_norm)->Arg(1024)->Arg(4096)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_rms_norm)->Arg(4096)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_adamw_step)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_attention_forward)->Arg(512)->Arg(2048)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_attention_forward_backward)->Arg(512)->Arg(2048)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_attention_decode)->Args({4096, 1})->Args({4096, 8})->UseManualTime()->Unit(benchmark::kMillisecond);

BENCHMARK(BM_selective_scan_fwd_bwd)->Arg(384)->Arg(1536)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_cublas_gemm)->Args({8192, 0})->Args({8192, 1})->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_gated_cross_attention)->Arg(0)->Arg(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_lora_linear)->Apply(lora_shapes)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
