// The one way kernels are launched, so every kernel runs both on a GPU and in the SIMT
// simulator:
//   EMRRG_LAUNCH(kernel, grid, block, dynamic_shared_bytes, stream, args...);
// With nvcc it is kernel<<<grid, block, shared, stream>>>(args...) followed by a launch check
// that names the kernel, file and line. In simulator builds it runs the kernel on the CPU and
// throws emrrg::sim::SimError for anything a GPU would reject or corrupt.
// Shared memory: `EMRRG_SHARED(float, partial, 32);` declares a static shared array, and
// `auto smem = emrrg::cuda::dynamic_shared<float>();` gives the dynamic shared memory; use
// both with [] indexing. The simulator checks every such access (cuda/sim/shared_memory.h).
#pragma once

// Both time the kernel for the op profiler while it records a trace (cuda/kernel_timer.h).
#include "cuda/kernel_timer.h"
#if defined(EMRRG_CUDA_SIM)
#include "cuda/sim/sim.h"
#define EMRRG_LAUNCH(kernel, grid, block, shared, stream, ...)                                                    \
  do {                                                                                                            \
    const ::emrrg::cuda::KernelTimer emrrg_kernel_timer(#kernel, (stream));                                       \
    ::emrrg::sim::launch(#kernel, (kernel), (grid), (block), (shared), (stream), __FILE__, __LINE__, ##__VA_ARGS__); \
  } while (0)
#define EMRRG_SHARED(T, name, count) static thread_local ::emrrg::sim::SharedArray<T, (count)> name
namespace emrrg::cuda {
template <typename T> inline ::emrrg::sim::SharedPtr<T> dynamic_shared() {
  const size_t count = ::emrrg::sim::current_thread().runner->dynamic_shared_bytes() / sizeof(T);
  return ::emrrg::sim::SharedPtr<T>(static_cast<T*>(::emrrg::sim::dynamic_shared_memory()),
                                    ::emrrg::sim::dynamic_shared_records(count), count);
}
}  // namespace emrrg::cuda
#else
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>
#define EMRRG_LAUNCH(kernel, grid, block, shared, stream, ...)                                    \
  do {                                                                                             \
    const ::emrrg::cuda::KernelTimer emrrg_kernel_timer(#kernel, (stream));                       \
    (kernel)<<<(grid), (block), (shared), (stream)>>>(__VA_ARGS__);                               \
    const cudaError_t emrrg_launch_err = cudaGetLastError();                                       \
    if (emrrg_launch_err != cudaSuccess)                                                           \
      throw std::runtime_error(std::string("launch of ") + #kernel + " at " + __FILE__ + ":" +     \
                               std::to_string(__LINE__) + ": " + cudaGetErrorString(emrrg_launch_err)); \
  } while (0)
#define EMRRG_SHARED(T, name, count) __shared__ T name[(count)]
namespace emrrg::cuda {
template <typename T> __device__ inline T* dynamic_shared() {
  extern __shared__ __align__(16) unsigned char emrrg_dynamic_shared_bytes[];
  return reinterpret_cast<T*>(emrrg_dynamic_shared_bytes);
}
}  // namespace emrrg::cuda
#endif
