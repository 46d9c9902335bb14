// What a kernel sees when it is compiled with the host compiler for the SIMT simulator: the
// CUDA built-in variables, __syncthreads, warp shuffles and votes, atomics, fast-math
// intrinsics, and the launch that runs it. Types (dim3, cudaStream_t, __nv_bfloat16, __half)
// come from the CUDA toolkit's own headers, whose host paths work with g++.
#pragma once

// One instance per simulated block: the fibers of a block share their OS thread, and an OS
// thread runs one block at a time. Must precede the CUDA headers, which define it otherwise.
#undef __shared__
#define __shared__ static thread_local

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>
#include <vector_functions.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>

#include "cuda/sim/block_runner.h"
#include "cuda/sim/thread_context.h"

#define threadIdx (::emrrg::sim::current_thread().thread_idx)
#define blockIdx (::emrrg::sim::current_thread().block_idx)
#define blockDim (::emrrg::sim::current_thread().block_dim)
#define gridDim (::emrrg::sim::current_thread().grid_dim)
#define __syncthreads() (::emrrg::sim::current_thread().runner->syncthreads(__FILE__, __LINE__))
#ifndef __forceinline__
#define __forceinline__ inline
#endif
#ifndef __launch_bounds__
#define __launch_bounds__(...)  // register and occupancy hints for nvcc; nothing to simulate
#endif
#ifndef __restrict__
#define __restrict__ __restrict
#endif

constexpr int warpSize = 32;

namespace emrrg::sim {

template <typename T> uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "warp operations move values of up to 8 bytes");
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}
template <typename T> T from_bits(uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}

inline uint64_t warp_rendezvous(WarpOpKind kind, unsigned mask, uint64_t value, int arg, int width, const char* file,
                                int line) {
  if (width <= 0 || width > 32 || (width & (width - 1)))
    throw SimError("SIMT simulator: warp operation width " + std::to_string(width) + " is not a power of two <= 32");
  return current_thread().runner->warp_op({kind, mask, value, arg, width, file, line});
}

void* dynamic_shared_memory();

// The kernel's arguments are copied once per launch, like CUDA's parameter buffer; each
// simulated thread calls the kernel with its own copies.
template <typename Kernel, typename... Args>
void launch(const char* name, Kernel kernel, dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t,
            const char* file, int line, Args... args) {
  const LaunchConfig config{name, reinterpret_cast<const void*>(kernel), grid, block, shared_bytes, file, line};
  std::tuple<Args...> params(args...);
  run_kernel(config, [&params, kernel]() { std::apply([kernel](auto... a) { kernel(a...); }, params); });
}

}  // namespace emrrg::sim

// Warp shuffles and votes: a rendezvous of every lane named in the mask.
#define EMRRG_SIM_WARP(kind, mask, value, arg, width) \
  ::emrrg::sim::warp_rendezvous(::emrrg::sim::WarpOpKind::kind, (mask), (value), (arg), (width), __FILE__, __LINE__)
#define __syncwarp(...) EMRRG_SIM_WARP(Sync, ::emrrg::sim::syncwarp_mask(__VA_ARGS__), 0, 0, 32)
#define __shfl_sync(mask, var, lane, ...) \
  ::emrrg::sim::from_bits<std::decay_t<decltype(var)>>(EMRRG_SIM_WARP(Shfl, mask, ::emrrg::sim::to_bits(var), lane, ::emrrg::sim::warp_width(__VA_ARGS__)))
#define __shfl_up_sync(mask, var, delta, ...) \
  ::emrrg::sim::from_bits<std::decay_t<decltype(var)>>(EMRRG_SIM_WARP(ShflUp, mask, ::emrrg::sim::to_bits(var), delta, ::emrrg::sim::warp_width(__VA_ARGS__)))
#define __shfl_down_sync(mask, var, delta, ...) \
  ::emrrg::sim::from_bits<std::decay_t<decltype(var)>>(EMRRG_SIM_WARP(ShflDown, mask, ::emrrg::sim::to_bits(var), delta, ::emrrg::sim::warp_width(__VA_ARGS__)))
#define __shfl_xor_sync(mask, var, lane_mask, ...) \
  ::emrrg::sim::from_bits<std::decay_t<decltype(var)>>(EMRRG_SIM_WARP(ShflXor, mask, ::emrrg::sim::to_bits(var), lane_mask, ::emrrg::sim::warp_width(__VA_ARGS__)))
#define __ballot_sync(mask, pred) static_cast<unsigned>(EMRRG_SIM_WARP(Ballot, mask, (pred) ? 1 : 0, 0, 32))
#define __any_sync(mask, pred) static_cast<int>(EMRRG_SIM_WARP(Any, mask, (pred) ? 1 : 0, 0, 32))
#define __all_sync(mask, pred) static_cast<int>(EMRRG_SIM_WARP(All, mask, (pred) ? 1 : 0, 0, 32))

namespace emrrg::sim {
inline unsigned syncwarp_mask() { return 0xffffffffu; }
inline unsigned syncwarp_mask(unsigned mask) { return mask; }
inline int warp_width() { return 32; }
inline int warp_width(int width) { return width; }
}  // namespace emrrg::sim

// Atomics: blocks run on several OS threads at once, so these are real atomic operations.
template <typename T> inline T atomicAdd(T* address, std::type_identity_t<T> value) {
  return std::atomic_ref<T>(*address).fetch_add(value);
}
template <typename T> inline T atomicExch(T* address, std::type_identity_t<T> value) { return std::atomic_ref<T>(*address).exchange(value); }
template <typename T> inline T atomicCAS(T* address, std::type_identity_t<T> compare, std::type_identity_t<T> value) {
  std::atomic_ref<T>(*address).compare_exchange_strong(compare, value);
  return compare;
}
template <typename T> inline T atomicMax(T* address, std::type_identity_t<T> value) {
  std::atomic_ref<T> ref(*address);
  T old = ref.load();
  while (old < value && !ref.compare_exchange_weak(old, value)) {
  }
  return old;
}
template <typename T> inline T atomicMin(T* address, std::type_identity_t<T> value) {
  std::atomic_ref<T> ref(*address);
  T old = ref.load();
  while (value < old && !ref.compare_exchange_weak(old, value)) {
  }
  return old;
}
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }

// Read-only cache loads and fast-math intrinsics: exact host equivalents.
template <typename T> inline T __ldg(const T* p) { return *p; }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __tanhf(float x) { return std::tanh(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline int __float_as_int(float x) { int i; std::memcpy(&i, &x, 4); return i; }
inline unsigned __float_as_uint(float x) { unsigned i; std::memcpy(&i, &x, 4); return i; }
inline float __int_as_float(int i) { float x; std::memcpy(&x, &i, 4); return x; }
inline float __uint_as_float(unsigned i) { float x; std::memcpy(&x, &i, 4); return x; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
