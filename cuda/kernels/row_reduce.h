// Device helpers of the row-wise kernels (softmax.cu, norm.cu): reductions over the threads that share one row of a [rows, n] tensor.
// A row belongs either to one warp (short rows: block (32, kRowsPerBlock), the row is
// blockIdx.x * blockDim.y + threadIdx.y) or to a whole block (long rows: block (threads, 1),
// the row is blockIdx.x). Either way threadIdx.x in [0, blockDim.x) strides the row.
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "cuda/kernels/storage.h"
#include "cuda/launch.h"
#include "runtime/tensor.h"

namespace emrrg::cuda::rows {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr float kInf = std::numeric_limits<float>::infinity();

using storage::load;
using storage::to_float;
using storage::to_storage;

// Reductions carry a float, or a float2 when one pass combines two statistics (a max and a
// sum of exponentials, or two sums). Combine functors must be commutative bit for bit: the
// xor butterfly then leaves the identical result in every lane.
struct Sum {
  __device__ __forceinline__ float operator()(float a, float b) const { return a + b; }
  __device__ __forceinline__ float2 operator()(float2 a, float2 b) const { return make_float2(a.x + b.x, a.y + b.y); }
};

// (running max m, sum of exp(v - m)) of two parts of a row, rescaled to the larger max.
// An empty part is (-inf, 0); skipping it avoids exp(-inf - -inf) = NaN on rows that start
// with masked (-inf) entries.
struct MaxSumExp {
  __device__ __forceinline__ float2 operator()(float2 a, float2 b) const {
    if (a.x == -kInf) return b;
    if (b.x == -kInf) return a;
    const float m = fmaxf(a.x, b.x);
    return make_float2(m, a.y * expf(a.x - m) + b.y * expf(b.x - m));
  }
};

// Adds one element v to a thread's running (max, sum of exp) without a second exponential.
// A NaN takes the first branch and poisons the sum, as exp(NaN) does in the CPU op.
__device__ __forceinline__ void add_to_max_sum_exp(float2& ms, float v) {
  if (!(v <= ms.x)) {
    ms.y = ms.y * expf(ms.x - v) + 1.0f;
    ms.x = v;
  } else if (ms.x != -kInf) {
    ms.y += expf(v - ms.x);
  }
}

__device__ __forceinline__ float shfl_xor(float v, int offset) { return __shfl_xor_sync(kFullMask, v, offset); }
__device__ __forceinline__ float2 shfl_xor(float2 v, int offset) {
  return make_float2(__shfl_xor_sync(kFullMask, v.x, offset), __shfl_xor_sync(kFullMask, v.y, offset));
}

template <typename T, typename Combine> __device__ __forceinline__ T warp_reduce(T v, Combine combine) {
  for (int offset = 16; offset > 0; offset /= 2) v = combine(v, shfl_xor(v, offset));
  return v;
}

// Over all blockDim.x threads of a block (a multiple of 32): warp butterflies, one shared
// slot per warp, then every warp reduces the slots itself so that every thread has the result
// without a broadcast. Every thread of the block must call it.
template <typename T, typename Combine> __device__ T block_reduce(T v, Combine combine, T identity) {
  EMRRG_SHARED(T, warp_partials, 32);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = warp_reduce(v, combine);
  if (lane == 0) warp_partials[warp] = v;
  __syncthreads();
  v = identity;
  if (lane < warps) v = warp_partials[lane];
  v = warp_reduce(v, combine);
  __syncthreads();  // the slots are free again for the caller's next reduction
  return v;
}

template <bool kWarpPerRow, typename T, typename Combine> __device__ __forceinline__ T row_reduce(T v, Combine combine, T identity) {
  if constexpr (kWarpPerRow) return warp_reduce(v, combine);
  else return block_reduce(v, combine, identity);
}

template <bool kWarpPerRow> __device__ __forceinline__ int64_t this_row() {
  if constexpr (kWarpPerRow) return int64_t{blockIdx.x} * blockDim.y + threadIdx.y;
  else return blockIdx.x;
}

// Host side: how to launch a row kernel over [rows, n]. Rows of up to kWarpRowMax elements
// get a warp each (at most 32 elements per lane); longer rows a block of up to 1024 threads,
// about 16 elements per thread, so 32000-wide vocabulary rows use 1024 threads.
constexpr int64_t kWarpRowMax = 1024;
constexpr unsigned kRowsPerBlock = 4;

struct RowLaunch {
  bool warp_per_row;
  dim3 grid, block;
};

inline RowLaunch row_launch(const char* op, int64_t rows, int64_t n) {
  RowLaunch l{};
  l.warp_per_row = n <= kWarpRowMax;
  const int64_t blocks = l.warp_per_row ? (rows + kRowsPerBlock - 1) / kRowsPerBlock : rows;
  if (blocks > std::numeric_limits<int32_t>::max())
    throw std::invalid_argument(std::string(op) + ": " + std::to_string(rows) + " rows exceed the CUDA grid");
  l.grid = dim3(static_cast<unsigned>(std::max<int64_t>(blocks, 1)));
  if (l.warp_per_row) {
    l.block = dim3(32, kRowsPerBlock);
  } else {
    const int64_t threads = std::clamp<int64_t>((n / 16 + 31) / 32 * 32, 128, 1024);
    l.block = dim3(static_cast<unsigned>(threads));
  }
  return l;
}

using storage::check_cuda_floating;
using storage::dispatch_storage;
using storage::ptr;

// Calls fn(std::bool_constant<a>{}, std::bool_constant<b>{}): kernel variants as template arguments.
template <typename Fn> void dispatch_bools(bool a, bool b, Fn&& fn) {
  if (a) {
    if (b) fn(std::true_type{}, std::true_type{});
    else fn(std::true_type{}, std::false_type{});
  } else {
    if (b) fn(std::false_type{}, std::true_type{});
    else fn(std::false_type{}, std::false_type{});
  }
}

}  // namespace emrrg::cuda::rows
