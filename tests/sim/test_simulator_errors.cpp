// Deliberately broken kernels: the simulator reports each bug, naming the kernel, block and
// thread, instead of computing garbage.
#include <gtest/gtest.h>

#include "cuda/launch.h"
#include "cuda/sim/memory.h"

namespace {

using emrrg::sim::SimError;

std::string error_of(const std::function<void()>& launch) {
  try {
    launch();
  } catch (const SimError& e) {
    return e.what();
  }
  return "no error";
}

// Sums neighbours through shared memory but forgets the barrier between the write and the read.
__global__ void neighbour_sum_missing_barrier(const float* in, float* out) {
  EMRRG_SHARED(float, tile, 64);
  const int t = threadIdx.x;
  tile[t] = in[t];
  out[t] = tile[t] + tile[(t + 1) % 64];
}

__global__ void neighbour_sum(const float* in, float* out) {
  EMRRG_SHARED(float, tile, 64);
  const int t = threadIdx.x;
  tile[t] = in[t];
  __syncthreads();
  out[t] = tile[t] + tile[(t + 1) % 64];
}

TEST(SimulatorErrors, MissingSyncthreadsIsCaught) {
  float* in = static_cast<float*>(emrrg::sim::device_malloc(64 * 4));
  float* out = static_cast<float*>(emrrg::sim::device_malloc(64 * 4));
  for (int i = 0; i < 64; ++i) in[i] = static_cast<float>(i);
  const std::string e = error_of([&] { EMRRG_LAUNCH(neighbour_sum_missing_barrier, dim3(2), dim3(64), 0, nullptr, in, out); });
  EXPECT_NE(e.find("neighbour_sum_missing_barrier"), std::string::npos) << e;
  EXPECT_NE(e.find("shared memory"), std::string::npos) << e;
  EXPECT_NE(e.find("block (0, 0, 0) thread (0, 0, 0)"), std::string::npos) << e;
  // The same kernel with the barrier runs and is right.
  EMRRG_LAUNCH(neighbour_sum, dim3(2), dim3(64), 0, nullptr, in, out);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(out[i], static_cast<float>(i + (i + 1) % 64));
  emrrg::sim::device_free(in);
  emrrg::sim::device_free(out);
}

// Every block of a large grid fails; blocks run in parallel, yet the error must name the lowest
// block on every run so that a failing launch reads the same each time.
TEST(SimulatorErrors, FailingLaunchReportsTheLowestBlockEveryRun) {
  float* in = static_cast<float*>(emrrg::sim::device_malloc(64 * 4));
  float* out = static_cast<float*>(emrrg::sim::device_malloc(64 * 4));
  for (int i = 0; i < 64; ++i) in[i] = static_cast<float>(i);
  for (int run = 0; run < 20; ++run) {
    const std::string e = error_of([&] { EMRRG_LAUNCH(neighbour_sum_missing_barrier, dim3(4, 3, 2), dim3(64), 0, nullptr, in, out); });
    ASSERT_NE(e.find("block (0, 0, 0) thread (0, 0, 0)"), std::string::npos) << "run " << run << ": " << e;
  }
  emrrg::sim::device_free(in);
  emrrg::sim::device_free(out);
}

// A write race on one shared element, and an index past the end of a shared array.
__global__ void shared_write_race(int* out) {
  EMRRG_SHARED(int, slot, 1);
  slot[0] = threadIdx.x;
  __syncthreads();
  out[0] = slot[0];
}
__global__ void shared_index_overflow(int* out) {
  EMRRG_SHARED(int, slot, 32);
  slot[threadIdx.x] = 1;
  __syncthreads();
  out[threadIdx.x] = slot[threadIdx.x];
}

TEST(SimulatorErrors, SharedMemoryRacesAndOverflowsAreCaught) {
  int* out = static_cast<int*>(emrrg::sim::device_malloc(64 * 4));
  std::string e = error_of([&] { EMRRG_LAUNCH(shared_write_race, dim3(1), dim3(4), 0, nullptr, out); });
  EXPECT_NE(e.find("also wrote it"), std::string::npos) << e;
  e = error_of([&] { EMRRG_LAUNCH(shared_index_overflow, dim3(1), dim3(33), 0, nullptr, out); });
  EXPECT_NE(e.find("index 32 is outside a shared array of 32 elements"), std::string::npos) << e;
  EXPECT_NE(e.find("thread (32, 0, 0)"), std::string::npos) << e;
  emrrg::sim::device_free(out);
}

// Reads lane 32 - 1 - lane but the mask covers only the lower half of the warp.
__global__ void shuffle_from_lane_outside_mask(int* out) {
  const int lane = threadIdx.x % 32;
  if (lane < 16) out[lane] = __shfl_sync(0x0000ffffu, lane, 31 - lane);
}
// A full mask in a block of 20 threads names lanes that do not exist.
__global__ void full_mask_in_partial_warp(int* out) {
  out[threadIdx.x] = __shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x), 0);
}
// Lanes that leave early never reach the shuffle the rest of the mask waits at.
__global__ void shuffle_after_early_exit(int* out) {
  if (threadIdx.x == 5) return;
  out[threadIdx.x] = __shfl_down_sync(0xffffffffu, static_cast<int>(threadIdx.x), 1);
}

TEST(SimulatorErrors, WrongShuffleLanesAreCaught) {
  int* out = static_cast<int*>(emrrg::sim::device_malloc(32 * 4));
  std::string e = error_of([&] { EMRRG_LAUNCH(shuffle_from_lane_outside_mask, dim3(1), dim3(32), 0, nullptr, out); });
  EXPECT_NE(e.find("reads lane 31, which is not in the mask 0xffff"), std::string::npos) << e;
  e = error_of([&] { EMRRG_LAUNCH(full_mask_in_partial_warp, dim3(1), dim3(20), 0, nullptr, out); });
  EXPECT_NE(e.find("names lane 20, which does not exist"), std::string::npos) << e;
  e = error_of([&] { EMRRG_LAUNCH(shuffle_after_early_exit, dim3(1), dim3(32), 0, nullptr, out); });
  EXPECT_NE(e.find("names lane 5, which has exited"), std::string::npos) << e;
  emrrg::sim::device_free(out);
}

__global__ void barrier_in_divergent_branch(int* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
  }
  out[threadIdx.x] = 1;
}
__global__ void two_different_barriers(int* out) {
  if (threadIdx.x % 2) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1;
}

TEST(SimulatorErrors, BarriersNotReachedByEveryThreadAreCaught) {
  int* out = static_cast<int*>(emrrg::sim::device_malloc(64 * 4));
  std::string e = error_of([&] { EMRRG_LAUNCH(barrier_in_divergent_branch, dim3(1), dim3(64), 0, nullptr, out); });
  EXPECT_NE(e.find("exited without reaching __syncthreads"), std::string::npos) << e;
  e = error_of([&] { EMRRG_LAUNCH(two_different_barriers, dim3(1), dim3(64), 0, nullptr, out); });
  EXPECT_NE(e.find("waits at __syncthreads at test_simulator_errors.cpp:"), std::string::npos) << e;
  emrrg::sim::device_free(out);
}

__global__ void noop(int*) {}

TEST(SimulatorErrors, LaunchConfigurationsAGpuRejects) {
  std::string e = error_of([&] { EMRRG_LAUNCH(noop, dim3(1), dim3(1025), 0, nullptr, nullptr); });
  EXPECT_NE(e.find("1025 threads per block exceeds the limit of 1024"), std::string::npos) << e;
  e = error_of([&] { EMRRG_LAUNCH(noop, dim3(1), dim3(32), 64 * 1024, nullptr, nullptr); });
  EXPECT_NE(e.find("65536 bytes of dynamic shared memory exceed the 49152-byte default"), std::string::npos) << e;
  emrrg::sim::set_max_dynamic_shared_memory(reinterpret_cast<const void*>(&noop), 64 * 1024);
  EMRRG_LAUNCH(noop, dim3(1), dim3(32), 64 * 1024, nullptr, nullptr);  // opted in: accepted
  e = error_of([&] { EMRRG_LAUNCH(noop, dim3(0), dim3(32), 0, nullptr, nullptr); });
  EXPECT_NE(e.find("a dimension is zero"), std::string::npos) << e;
}

__global__ void write_one_past_the_end(float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i <= n) out[i] = 1.0f;  // should be i < n
}

TEST(SimulatorErrorsDeathTest, OutOfBoundsWriteIsCaught) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        const int n = 100;
        float* out = static_cast<float*>(emrrg::sim::device_malloc(n * sizeof(float)));
        EMRRG_LAUNCH(write_one_past_the_end, dim3(4), dim3(32), 0, nullptr, out, n);
      },
      "kernel 'write_one_past_the_end' block \\(3, 0, 0\\) thread \\(4, 0, 0\\).*0 bytes past the end of a 400-byte "
      "device buffer");
}

}  // namespace
