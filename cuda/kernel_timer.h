// Device time of one kernel (or cuBLAS call) for the op profiler (runtime/profiler.h): while a
// trace is recorded, a pair of timing events brackets the work on its stream, and the pair is
// read back when the trace ends, so timing never waits for the device. Otherwise it costs one
// call and a branch. EMRRG_LAUNCH (cuda/launch.h) and the GEMM wrapper use it.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "runtime/profiler.h"

namespace emrrg::cuda {

bool kernel_timing_on();

class KernelTimer {
 public:
  KernelTimer(const char* name, cudaStream_t stream) {
    if (kernel_timing_on()) start(name, stream);
  }
  ~KernelTimer() {
    if (start_) stop();
  }
  KernelTimer(const KernelTimer&) = delete;
  KernelTimer& operator=(const KernelTimer&) = delete;

 private:
  void start(const char* name, cudaStream_t stream);
  void stop() noexcept;
  const char* name_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t start_ = nullptr;
  int64_t op_id_ = 0, range_id_ = 0;
  int64_t host_ns_ = 0;
};

// The profiler's collector (cuda/profiling.cpp): a trace begins; it ended, the kernels it
// timed; the device they ran on (-1 while none ran, so CPU-only runs never touch CUDA).
void begin_kernel_timing();
std::vector<profiler::KernelEvent> collect_timed_kernels();
int timed_device();

// Registers the CUDA collector with the profiler (kernel events, caching-allocator counters,
// the device's measured ceilings) and, in nvcc builds, the NVTX hooks. Idempotent.
void install_profiling();

}  // namespace emrrg::cuda
