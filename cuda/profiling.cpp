#include <atomic>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <vector>

#include "cuda/caching_allocator.h"
#include "cuda/cuda_check.h"
#include "cuda/device_ceilings.h"
#include "cuda/kernel_timer.h"
#include "cuda/stream.h"
#include "runtime/profiler.h"

#if !defined(EMRRG_CUDA_SIM)
#include <nvtx3/nvToolsExt.h>
#endif

namespace emrrg::cuda {

namespace {

void sample_allocator(std::vector<profiler::CounterSample>& out, int64_t now) {
  const int device = timed_device();
  if (device < 0) return;  // no kernel ran in this trace: leave CUDA untouched
  const AllocatorStats st = caching_allocator(device).stats();
  out.push_back({"cuda:" + std::to_string(device) + " memory (MiB)", now,
                 {{"allocated", static_cast<double>(st.allocated_bytes) / (1 << 20)},
                  {"reserved", static_cast<double>(st.reserved_bytes) / (1 << 20)}}});
}

profiler::Ceilings measured_ceilings() {
  profiler::Ceilings c;
#if !defined(EMRRG_CUDA_SIM)
  const int device = timed_device();
  if (device < 0) return c;
  DeviceGuard guard(device);
  c.copy_gbps = measure_copy_gbps();
  c.gemm_tflops = measure_bf16_gemm_tflops();
  cudaDeviceProp prop;
  EMRRG_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  c.device = prop.name;
#endif
  return c;
}

#if !defined(EMRRG_CUDA_SIM)
void nvtx_push(const char* name) { nvtxRangePushA(name); }
void nvtx_pop() { nvtxRangePop(); }
void nvtx_mark(const char* name) { nvtxMarkA(name); }
#endif

}  // namespace

void install_profiling() {
  static std::once_flag once;
  std::call_once(once, [] {
    profiler::Collector c;
    c.on_start = begin_kernel_timing;
    c.kernels = collect_timed_kernels;
    c.sample_memory = sample_allocator;
    c.ceilings = measured_ceilings;
    profiler::register_collector(std::move(c));
#if !defined(EMRRG_CUDA_SIM)
    profiler::install_nvtx(nvtx_push, nvtx_pop, nvtx_mark);
#endif
  });
}

}  // namespace emrrg::cuda
