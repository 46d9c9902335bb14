// Streams, events, the per-thread current stream and device properties of the CUDA backend,
// run against the simulator's runtime (one "EMRRG SIMT simulator" device with sm_90 limits).
// The simulator's kernel header must come before the CUDA headers, which define __shared__.
#include "cuda/launch.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/cuda_check.h"
#include "cuda/device_properties.h"
#include "cuda/sim/memory.h"
#include "cuda/sim/sim_device.h"
#include "cuda/stream.h"

namespace {

using namespace emrrg;

TEST(CudaStreams, TheCurrentStreamIsPerThreadAndDefaultsToTheLegacyStream) {
  EXPECT_EQ(cuda::current_stream(), nullptr);
  cuda::Stream s;
  {
    cuda::StreamGuard guard(s);
    EXPECT_EQ(cuda::current_stream(), s.get());
    cudaStream_t seen_elsewhere = s.get();
    std::thread([&] { seen_elsewhere = cuda::current_stream(); }).join();
    EXPECT_EQ(seen_elsewhere, nullptr);
    cuda::Stream inner;
    {
      cuda::StreamGuard nested(inner);
      EXPECT_EQ(cuda::current_stream(), inner.get());
    }
    EXPECT_EQ(cuda::current_stream(), s.get());
  }
  EXPECT_EQ(cuda::current_stream(), nullptr);
}

TEST(CudaStreams, DestroyingTheCurrentStreamFallsBackToTheDefault) {
  auto s = std::make_unique<cuda::Stream>();
  cuda::set_current_stream(s->get(), 0);
  s.reset();
  EXPECT_EQ(cuda::current_stream(), nullptr);
}

TEST(CudaStreams, MovedStreamsOwnTheirHandleOnce) {
  cuda::Stream a;
  const cudaStream_t handle = a.get();
  cuda::Stream b(std::move(a));
  EXPECT_EQ(b.get(), handle);
  EXPECT_EQ(a.get(), nullptr);
  EXPECT_TRUE(b.query());
  EXPECT_EQ(cudaStreamQuery(handle), cudaSuccess);
}

TEST(CudaStreams, QueryAndSynchronizeFollowWorkInFlight) {
  cuda::Stream s;
  EXPECT_TRUE(s.query());
  sim::hold_stream(s.get());
  EXPECT_FALSE(s.query());
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);  // not-ready is an answer, not an error
  s.synchronize();
  EXPECT_TRUE(s.query());
}

TEST(CudaStreams, TheLegacyStreamSynchronisesBlockingStreamsOnly) {
  cuda::Stream blocking(0, /*non_blocking=*/false), independent;
  sim::hold_stream(blocking.get());
  sim::hold_stream(independent.get());
  EMRRG_CUDA_CHECK(cudaStreamSynchronize(nullptr));
  EXPECT_TRUE(blocking.query());
  EXPECT_FALSE(independent.query());
  EMRRG_CUDA_CHECK(cudaDeviceSynchronize());
  EXPECT_TRUE(independent.query());
}

TEST(CudaEvents, ElapsedTimeMeasuresTheWorkBetweenTwoRecords) {
  cuda::Stream s;
  cuda::Event start, end;
  start.record(s.get());
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  end.record(s.get());
  end.synchronize();
  const float ms = start.elapsed_ms(end);
  EXPECT_GE(ms, 25.0f);
  EXPECT_LT(ms, 2000.0f);
}

TEST(CudaEvents, TimingNeedsTimingEventsThatWereRecorded) {
  cuda::Event plain(false), timed, never;
  plain.record();
  timed.record();
  EXPECT_THROW(plain.elapsed_ms(timed), cuda::CudaError);
  EXPECT_THROW(timed.elapsed_ms(never), cuda::CudaError);
}

TEST(CudaEvents, AnEventCompletesWithTheWorkItCaptured) {
  cuda::Stream s, waiter;
  cuda::Event e(false);
  EXPECT_TRUE(e.query());  // nothing captured yet
  sim::hold_stream(s.get());
  e.record(s.get());
  EXPECT_FALSE(e.query());
  e.block(waiter.get());
  EXPECT_FALSE(waiter.query());  // queued behind the event
  e.synchronize();
  EXPECT_TRUE(e.query());
  EXPECT_TRUE(s.query());
  waiter.synchronize();
}

TEST(CudaDevice, PropertiesOfTheSimulatedDevice) {
  EXPECT_EQ(cuda::device_count(), 1);
  EXPECT_EQ(cuda::current_device(), 0);
  const cuda::DeviceProperties& p = cuda::device_properties(0);
  EXPECT_EQ(&cuda::device_properties(0), &p);
  EXPECT_EQ(p.name, "EMRRG SIMT simulator");
  EXPECT_EQ(p.compute_capability(), 90);
  EXPECT_EQ(p.sm_count, 132);
  EXPECT_EQ(p.max_threads_per_block, 1024);
  EXPECT_EQ(p.warp_size, 32);
  EXPECT_EQ(p.shared_memory_per_block, 48u * 1024);
  EXPECT_EQ(p.shared_memory_per_block_optin, 227u * 1024);
  EXPECT_GE(p.shared_memory_per_sm, p.shared_memory_per_block_optin);
  EXPECT_GT(p.l2_cache_bytes, 0u);
  EXPECT_EQ(p.memory_bus_width_bits, 5120);
  EXPECT_EQ(p.memory_clock_khz, 2619000);
  // 2 transfers per clock x 2.619 GHz x 640 bytes: H100 SXM's 3.35 TB/s.
  EXPECT_NEAR(p.peak_bandwidth_bytes_per_s(), 3.352e12, 1e9);
  EXPECT_EQ(cuda::query_device_properties(0).total_memory, sim::device_memory_limit());
  EXPECT_NE(p.str().find("EMRRG SIMT simulator"), std::string::npos);
  EXPECT_THROW(cuda::query_device_properties(1), cuda::CudaError);
}

TEST(CudaDevice, MemoryInfoFollowsTheSimulatedLimit) {
  const size_t saved = sim::device_memory_limit();
  sim::set_device_memory_limit(sim::device_memory_used() + (size_t{32} << 20));
  size_t free_bytes = 0, total = 0;
  EMRRG_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total));
  EXPECT_EQ(free_bytes, size_t{32} << 20);
  EXPECT_EQ(total, sim::device_memory_limit());
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, (size_t{32} << 20) + 1), cudaErrorMemoryAllocation);
  EXPECT_EQ(cudaGetLastError(), cudaErrorMemoryAllocation);
  EMRRG_CUDA_CHECK(cudaMalloc(&p, size_t{32} << 20));
  EMRRG_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total));
  EXPECT_EQ(free_bytes, 0u);
  EMRRG_CUDA_CHECK(cudaFree(p));
  EXPECT_EQ(cudaFree(p), cudaErrorInvalidValue);  // twice
  (void)cudaGetLastError();
  sim::set_device_memory_limit(saved);
}

__global__ void reverse_through_shared(float* out, int n) {
  auto smem = emrrg::cuda::dynamic_shared<float>();
  const int i = static_cast<int>(threadIdx.x);
  smem[i] = static_cast<float>(i) + 0.5f;
  __syncthreads();
  if (i < n) out[i] = smem[n - 1 - i];
}

TEST(CudaDevice, LargeDynamicSharedMemoryNeedsTheOptIn) {
  constexpr int threads = 64;
  constexpr size_t shared = 100 * 1024;  // more than the 48 KiB default
  float* out = nullptr;
  EMRRG_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&out), threads * sizeof(float)));
  // The opt-in lasts for the process; start without it.
  EMRRG_CUDA_CHECK(cudaFuncSetAttribute(reinterpret_cast<const void*>(reverse_through_shared),
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, 0));
  EXPECT_THROW(EMRRG_LAUNCH(reverse_through_shared, dim3(1), dim3(threads), shared, nullptr, out, threads),
               sim::SimError);
  EXPECT_EQ(cudaFuncSetAttribute(reinterpret_cast<const void*>(reverse_through_shared),
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, 228 * 1024),
            cudaErrorInvalidValue);
  (void)cudaGetLastError();
  EMRRG_CUDA_CHECK(cudaFuncSetAttribute(reinterpret_cast<const void*>(reverse_through_shared),
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared)));
  EMRRG_LAUNCH(reverse_through_shared, dim3(1), dim3(threads), shared, nullptr, out, threads);
  std::vector<float> host(threads);
  EMRRG_CUDA_CHECK(cudaMemcpy(host.data(), out, threads * sizeof(float), cudaMemcpyDeviceToHost));
  for (int i = 0; i < threads; ++i) EXPECT_EQ(host[i], static_cast<float>(threads - 1 - i) + 0.5f);
  EMRRG_CUDA_CHECK(cudaFree(out));
}

}  // namespace
