// The SIMT simulator runs CUDA kernels with CUDA's semantics: built-in indices, block
// barriers, warp shuffles and votes, shared memory, atomics.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "cuda/launch.h"
#include "cuda/sim/memory.h"

namespace {

using emrrg::sim::device_free;
using emrrg::sim::device_malloc;

template <typename T> struct DeviceBuffer {
  explicit DeviceBuffer(size_t n) : n(n), ptr(static_cast<T*>(device_malloc(n * sizeof(T)))) {}
  ~DeviceBuffer() { device_free(ptr); }
  std::vector<T> host() const { return std::vector<T>(ptr, ptr + n); }
  size_t n;
  T* ptr;
};

__global__ void write_indices(int* out) {
  const int block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const int thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const int per_block = blockDim.x * blockDim.y * blockDim.z;
  out[block * per_block + thread] = block * 1000 + thread;
}

TEST(Simulator, BuiltInIndicesCoverTheGridIn3D) {
  const dim3 grid(3, 2, 2), block(4, 3, 2);
  DeviceBuffer<int> out(12 * 24);
  EMRRG_LAUNCH(write_indices, grid, block, 0, nullptr, out.ptr);
  const auto v = out.host();
  for (int b = 0; b < 12; ++b)
    for (int t = 0; t < 24; ++t) ASSERT_EQ(v[b * 24 + t], b * 1000 + t);
}

// A block-wide sum: tree reduction in shared memory down to a warp, then shuffles.
__global__ void block_sum(const float* in, float* out, int n) {
  EMRRG_SHARED(float, partial, 256);
  const int tid = threadIdx.x;
  const int i = blockIdx.x * blockDim.x + tid;
  partial[tid] = i < n ? in[i] : 0.0f;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride >= 32; stride /= 2) {
    if (tid < stride) partial[tid] = partial[tid] + partial[tid + stride];
    __syncthreads();
  }
  if (tid < 32) {
    float v = partial[tid];
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
    if (tid == 0) out[blockIdx.x] = v;
  }
}

TEST(Simulator, SharedMemoryReductionWithBarriersAndShuffles) {
  const int n = 1000;  // not a multiple of the block size
  DeviceBuffer<float> in(n), out(4);
  for (int i = 0; i < n; ++i) in.ptr[i] = static_cast<float>(i % 17) - 3.0f;
  EMRRG_LAUNCH(block_sum, dim3(4), dim3(256), 0, nullptr, in.ptr, out.ptr, n);
  for (int b = 0; b < 4; ++b) {
    double expected = 0;
    for (int i = b * 256; i < std::min(n, (b + 1) * 256); ++i) expected += in.ptr[i];
    EXPECT_FLOAT_EQ(out.ptr[b], static_cast<float>(expected)) << "block " << b;
  }
}

__global__ void warp_ops(int* out) {
  const int lane = threadIdx.x % 32;
  const int base = threadIdx.x * 8;
  out[base + 0] = __shfl_sync(0xffffffffu, lane * 10, 3);
  out[base + 1] = __shfl_up_sync(0xffffffffu, lane, 2);
  out[base + 2] = __shfl_down_sync(0xffffffffu, lane, 5);
  out[base + 3] = __shfl_xor_sync(0xffffffffu, lane, 1);
  out[base + 4] = static_cast<int>(__ballot_sync(0xffffffffu, lane % 3 == 0));
  out[base + 5] = __any_sync(0xffffffffu, lane == 7);
  out[base + 6] = __all_sync(0xffffffffu, lane < 31);
  out[base + 7] = __shfl_xor_sync(0xffffffffu, lane, 4, 8);  // within segments of 8 lanes
}

TEST(Simulator, WarpShufflesAndVotesFollowCuda) {
  DeviceBuffer<int> out(64 * 8);
  EMRRG_LAUNCH(warp_ops, dim3(1), dim3(64), 0, nullptr, out.ptr);
  unsigned ballot = 0;
  for (int l = 0; l < 32; l += 3) ballot |= 1u << l;
  for (int t = 0; t < 64; ++t) {
    const int lane = t % 32;
    const int* o = out.ptr + t * 8;
    EXPECT_EQ(o[0], 30);
    EXPECT_EQ(o[1], lane >= 2 ? lane - 2 : lane);
    EXPECT_EQ(o[2], lane + 5 < 32 ? lane + 5 : lane);
    EXPECT_EQ(o[3], lane ^ 1);
    EXPECT_EQ(static_cast<unsigned>(o[4]), ballot);
    EXPECT_EQ(o[5], 1);
    EXPECT_EQ(o[6], 0);
    EXPECT_EQ(o[7], lane ^ 4);
  }
}

__global__ void partial_warp_sum(const int* in, int* out) {
  // 40 threads: the second warp has 8 lanes, so its mask must name only those.
  const int lane = threadIdx.x % 32;
  const int lanes = std::min(32, static_cast<int>(blockDim.x) - static_cast<int>(threadIdx.x / 32) * 32);
  const unsigned mask = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1;
  int v = in[threadIdx.x];
  for (int offset = 1; offset < 32; offset *= 2) {
    // Only lanes of the mask may be read: a lane whose partner does not exist reads itself.
    const int partner = (lane ^ offset) < lanes ? (lane ^ offset) : lane;
    const int other = __shfl_sync(mask, v, partner);
    if (partner != lane) v += other;
  }
  out[threadIdx.x] = v;
}

TEST(Simulator, PartialWarpsUseMasksOfTheirOwnLanes) {
  DeviceBuffer<int> in(40), out(40);
  std::iota(in.ptr, in.ptr + 40, 1);
  EMRRG_LAUNCH(partial_warp_sum, dim3(1), dim3(40), 0, nullptr, in.ptr, out.ptr);
  for (int t = 0; t < 32; ++t) EXPECT_EQ(out.ptr[t], 32 * 33 / 2);
  for (int t = 32; t < 40; ++t) EXPECT_EQ(out.ptr[t], (33 + 40) * 8 / 2);
}

__global__ void reverse_in_dynamic_shared(const float* in, float* out, int n) {
  auto smem = emrrg::cuda::dynamic_shared<float>();
  const int t = threadIdx.x;
  smem[t] = in[t];
  __syncthreads();
  out[t] = smem[n - 1 - t];
}

TEST(Simulator, DynamicSharedMemory) {
  const int n = 100;
  DeviceBuffer<float> in(n), out(n);
  for (int i = 0; i < n; ++i) in.ptr[i] = 0.5f * i;
  EMRRG_LAUNCH(reverse_in_dynamic_shared, dim3(1), dim3(n), n * sizeof(float), nullptr, in.ptr, out.ptr, n);
  for (int i = 0; i < n; ++i) EXPECT_EQ(out.ptr[i], 0.5f * (n - 1 - i));
}

__global__ void histogram(const int* in, int n, int* bins, float* total) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  atomicAdd(&bins[in[i] % 4], 1);
  atomicAdd(total, 0.5f);
}

TEST(Simulator, AtomicsAcrossConcurrentBlocks) {
  const int n = 5000;
  DeviceBuffer<int> in(n), bins(4);
  DeviceBuffer<float> total(1);
  std::iota(in.ptr, in.ptr + n, 0);
  std::fill(bins.ptr, bins.ptr + 4, 0);
  total.ptr[0] = 0;
  EMRRG_LAUNCH(histogram, dim3((n + 127) / 128), dim3(128), 0, nullptr, in.ptr, n, bins.ptr, total.ptr);
  for (int b = 0; b < 4; ++b) EXPECT_EQ(bins.ptr[b], n / 4);
  EXPECT_EQ(total.ptr[0], 0.5f * n);
}

__global__ void bf16_round_trip(const float* in, __nv_bfloat16* mid, float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    mid[i] = __float2bfloat16(in[i]);
    out[i] = __bfloat162float(mid[i]) + __expf(0.0f) - 1.0f + rsqrtf(4.0f) - 0.5f;
  }
}

TEST(Simulator, Bfloat16AndIntrinsicsUseTheHostPaths) {
  DeviceBuffer<float> in(3), out(3);
  DeviceBuffer<__nv_bfloat16> mid(3);
  in.ptr[0] = 1.0f;
  in.ptr[1] = 1.00390625f;  // halfway: rounds to even (1.0)
  in.ptr[2] = -3.0f;
  EMRRG_LAUNCH(bf16_round_trip, dim3(1), dim3(32), 0, nullptr, in.ptr, mid.ptr, out.ptr, 3);
  EXPECT_EQ(out.ptr[0], 1.0f);
  EXPECT_EQ(out.ptr[1], 1.0f);
  EXPECT_EQ(out.ptr[2], -3.0f);
}

}  // namespace
