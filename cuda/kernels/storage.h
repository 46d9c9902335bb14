// Helpers shared by every kernel file: float32 loads and stores of the floating storage types
// (float, __nv_bfloat16, __half), dtype dispatch on the host, argument checks and grid sizing.
#pragma once
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "cuda/launch.h"
#include "runtime/tensor.h"

namespace emrrg::cuda::storage {

constexpr int kBlock = 256;

template <typename S> __device__ __forceinline__ float to_float(S v) {
  if constexpr (std::is_same_v<S, float>) return v;
  else if constexpr (std::is_same_v<S, __nv_bfloat16>) return __bfloat162float(v);
  else return __half2float(v);
}
template <typename S> __device__ __forceinline__ float load(const S* p) {
  if constexpr (std::is_same_v<S, float>) return __ldg(p);
  else return to_float(*p);
}
template <typename S> __device__ __forceinline__ S to_storage(float v) {
  if constexpr (std::is_same_v<S, float>) return v;
  else if constexpr (std::is_same_v<S, __nv_bfloat16>) return __float2bfloat16(v);
  else return __float2half(v);
}

// Blocks for a grid-stride loop over n items, capped so tiny tensors launch one block and
// huge ones do not exceed what the loop needs.
inline unsigned grid_for(int64_t n, int block = kBlock) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>((n + block - 1) / block, 4096)));
}

inline void check_cuda(const char* op, const Tensor& t) {
  if (t.device().type != DeviceType::CUDA)
    throw std::invalid_argument(std::string(op) + ": " + t.str() + " is not a CUDA tensor");
}

inline void check_cuda_floating(const char* op, const Tensor& t) {
  check_cuda(op, t);
  if (t.dtype() != DType::Float32 && t.dtype() != DType::BFloat16 && t.dtype() != DType::Float16)
    throw std::invalid_argument(std::string(op) + ": CUDA kernels take float32, bfloat16 or float16, got " + t.str());
}

// Calls fn(S{}) with the storage type of a float32, bfloat16 or float16 tensor.
template <typename Fn> void dispatch_storage(DType t, Fn&& fn) {
  if (t == DType::Float32) fn(float{});
  else if (t == DType::BFloat16) fn(__nv_bfloat16{});
  else fn(__half{});
}

// The address of t's first element (nullptr for an undefined tensor).
template <typename S> S* ptr(const Tensor& t) { return t.defined() ? static_cast<S*>(t.raw_data()) : nullptr; }

}  // namespace emrrg::cuda::storage
