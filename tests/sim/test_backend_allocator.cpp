// The caching device allocator: size classes, splitting and merging, a steady-state loop that
// never reaches cudaMalloc, statistics, release-and-retry and the out-of-memory report under
// a small simulated device, and stream-ordered reuse (with busy streams modelled by
// emrrg::sim::hold_stream).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "cuda/caching_allocator.h"
#include "cuda/cuda_backend.h"
#include "cuda/stream.h"
#include "cuda/sim/memory.h"
#include "cuda/sim/sim_device.h"
#include "runtime/tensor.h"

namespace {

using namespace emrrg;
using cuda::CachingAllocator;

constexpr size_t MiB = size_t{1} << 20;

cuda::AllocatorOptions binned() { return {}; }

// Caps the simulated device at `headroom` bytes more than is in use now; restores on exit.
class DeviceMemoryHeadroom {
 public:
  explicit DeviceMemoryHeadroom(size_t headroom) : saved_(sim::device_memory_limit()) {
    sim::set_device_memory_limit(sim::device_memory_used() + headroom);
  }
  ~DeviceMemoryHeadroom() { sim::set_device_memory_limit(saved_); }

 private:
  size_t saved_;
};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(CachingAllocator, SmallRequestsRoundTo512BytesAndShareA2MiBSegment) {
  CachingAllocator a(0, binned());
  char* p = static_cast<char*>(a.allocate(1, nullptr));
  char* q = static_cast<char*>(a.allocate(1000, nullptr));
  EXPECT_EQ(a.block_size(p), 512u);
  EXPECT_EQ(a.block_size(q), 1024u);
  EXPECT_EQ(q, p + 512);
  auto s = a.stats();
  EXPECT_EQ(s.cuda_malloc_calls, 1u);
  EXPECT_EQ(s.reserved_bytes, 2 * MiB);
  EXPECT_EQ(s.allocated_bytes, 1536u);
  EXPECT_EQ(s.requested_bytes, 1001u);
  EXPECT_EQ(s.live_blocks, 2u);
  a.deallocate(p);
  a.deallocate(q);
  s = a.stats();
  EXPECT_EQ(s.allocated_bytes, 0u);
  EXPECT_EQ(s.requested_bytes, 0u);
  EXPECT_EQ(s.reserved_bytes, 2 * MiB);
  EXPECT_EQ(s.peak_allocated_bytes, 1536u);
  EXPECT_EQ(a.allocate(0, nullptr), nullptr);
}

TEST(CachingAllocator, LargeRequestsGetSegmentsBySize) {
  CachingAllocator a(0, binned());
  void* big = a.allocate(11 * MiB + 1, nullptr);  // its own segment, rounded to 2 MiB
  void* mid = a.allocate(3 * MiB, nullptr);       // under 10 MiB: a 20 MiB segment
  // The 12 MiB segment's last 1 MiB is too small to serve a large request: not split off.
  EXPECT_EQ(a.block_size(big), 12 * MiB);
  EXPECT_EQ(a.block_size(mid), 3 * MiB);
  EXPECT_EQ(a.stats().reserved_bytes, 32 * MiB);
  // The rest of the 20 MiB segment serves the next large requests.
  void* next = a.allocate(5 * MiB, nullptr);
  EXPECT_EQ(static_cast<char*>(next), static_cast<char*>(mid) + 3 * MiB);
  void* last = a.allocate(11 * MiB, nullptr);
  EXPECT_EQ(static_cast<char*>(last), static_cast<char*>(next) + 5 * MiB);
  EXPECT_EQ(a.stats().cuda_malloc_calls, 2u);
  for (void* p : {mid, big, next, last}) a.deallocate(p);
}

TEST(CachingAllocator, FreedNeighboursMergeBackIntoWholeSegments) {
  CachingAllocator a(0, binned());
  void* x = a.allocate(100 * 1024, nullptr);
  void* y = a.allocate(200 * 1024, nullptr);
  void* z = a.allocate(300 * 1024, nullptr);
  a.deallocate(y);
  a.deallocate(x);
  a.deallocate(z);
  // Only a segment that is one free block again can be released.
  a.empty_cache();
  const auto s = a.stats();
  EXPECT_EQ(s.reserved_bytes, 0u);
  EXPECT_EQ(s.segments, 0u);
  EXPECT_EQ(s.cuda_free_calls, 1u);
}

TEST(CachingAllocator, SteadyStateLoopMakesNoDeviceMallocs) {
  CachingAllocator a(0, binned());
  // Warm-up at the largest sizes of the loop: five small and five large blocks at once.
  std::vector<void*> warm;
  for (int i = 0; i < 5; ++i) warm.push_back(a.allocate(1 * MiB, nullptr));
  for (int i = 0; i < 5; ++i) warm.push_back(a.allocate(4 * MiB, nullptr));
  for (void* p : warm) a.deallocate(p);
  const size_t device_mallocs = sim::device_malloc_calls();
  const size_t cuda_mallocs = a.stats().cuda_malloc_calls;

  std::mt19937 rng(42);
  size_t peak = 0;
  for (int iter = 0; iter < 100; ++iter) {
    std::vector<void*> live;
    size_t allocated = 0;
    const int n = 1 + static_cast<int>(rng() % 5);
    for (int i = 0; i < n; ++i) {
      const bool large = rng() % 2;
      const size_t bytes = large ? MiB + 1 + rng() % (3 * MiB) : 1 + rng() % MiB;
      live.push_back(a.allocate(bytes, nullptr));
      allocated += a.block_size(live.back());
    }
    EXPECT_EQ(a.stats().allocated_bytes, allocated);
    peak = std::max(peak, allocated);
    std::shuffle(live.begin(), live.end(), rng);
    for (void* p : live) a.deallocate(p);
  }
  EXPECT_EQ(sim::device_malloc_calls(), device_mallocs);
  const auto s = a.stats();
  EXPECT_EQ(s.cuda_malloc_calls, cuda_mallocs);
  EXPECT_EQ(s.allocated_bytes, 0u);
  EXPECT_EQ(s.live_blocks, 0u);
  EXPECT_EQ(s.peak_allocated_bytes, std::max(peak, 5 * MiB + 20 * MiB));
  a.reset_peak();
  EXPECT_EQ(a.stats().peak_allocated_bytes, 0u);
}

TEST(CachingAllocator, ExactSizesEndEachBlockAtItsGuardPage) {
  CachingAllocator a(0, {.exact_sizes = true});
  void* p = a.allocate(1001, nullptr);
  const auto alloc = sim::find_device_allocation(p);
  ASSERT_TRUE(alloc.has_value());
  EXPECT_EQ(alloc->base + alloc->size, reinterpret_cast<uintptr_t>(p) + 1001);
  a.deallocate(p);
  EXPECT_EQ(a.allocate(1001, nullptr), p);
  void* q = a.allocate(1002, nullptr);
  EXPECT_NE(q, p);
  EXPECT_EQ(a.stats().cuda_malloc_calls, 2u);
  a.deallocate(p);
  a.deallocate(q);
}

TEST(CachingAllocator, TensorsInTheSimulatorGetExactSizedBuffers) {
  cuda::register_cuda_backend();
  ASSERT_TRUE(cuda::caching_allocator(0).options().exact_sizes)
      << "the simulator defaults to exact sizes; EMRRG_CUDA_ALLOCATOR overrides it";
  const Tensor t = empty({37}, DType::Float32, Device::cuda());
  const auto alloc = sim::find_device_allocation(t.raw_data());
  ASSERT_TRUE(alloc.has_value());
  EXPECT_EQ(alloc->size, 37 * sizeof(float));
}

TEST(CachingAllocator, ReleasesTheCacheAndRetriesBeforeGivingUp) {
  DeviceMemoryHeadroom headroom(64 * MiB);
  CachingAllocator a(0, binned());
  a.deallocate(a.allocate(40 * MiB, nullptr));
  void* p = a.allocate(50 * MiB, nullptr);  // fits only once the cached 40 MiB is returned
  const auto s = a.stats();
  EXPECT_EQ(s.cuda_malloc_calls, 3u);
  EXPECT_EQ(s.cuda_free_calls, 1u);
  EXPECT_EQ(s.reserved_bytes, 50 * MiB);
  EXPECT_EQ(s.peak_reserved_bytes, 50 * MiB);
  EXPECT_EQ(s.out_of_memory_errors, 0u);
  a.deallocate(p);
}

TEST(CachingAllocator, TightMemoryShrinksAMidSizedSegmentToTheRequest) {
  DeviceMemoryHeadroom headroom(12 * MiB);
  CachingAllocator a(0, binned());
  void* p = a.allocate(5 * MiB, nullptr);  // a 20 MiB segment does not fit; 6 MiB does
  EXPECT_EQ(a.stats().reserved_bytes, 6 * MiB);
  a.deallocate(p);
}

TEST(CachingAllocator, OutOfMemoryReportsTheRequestAndTheStatistics) {
  DeviceMemoryHeadroom headroom(64 * MiB);
  CachingAllocator a(0, binned());
  void* held = a.allocate(40 * MiB, nullptr);
  try {
    a.allocate(30 * MiB, nullptr);
    FAIL() << "no exception";
  } catch (const cuda::OutOfMemoryError& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.requested_bytes(), 30 * MiB);
    EXPECT_TRUE(contains(what, "out of memory on device 0")) << what;
    EXPECT_TRUE(contains(what, "tried to allocate 30.00 MiB (31457280 bytes")) << what;
    EXPECT_TRUE(contains(what, "40.00 MiB allocated (peak 40.00 MiB)")) << what;
    EXPECT_TRUE(contains(what, "40.00 MiB reserved")) << what;
    EXPECT_TRUE(contains(what, "24.00 MiB free of ")) << what;
    EXPECT_TRUE(contains(what, " total")) << what;
  }
  const auto s = a.stats();
  EXPECT_EQ(s.out_of_memory_errors, 1u);
  EXPECT_EQ(s.cuda_malloc_calls, 3u);  // the first segment, then the failed try and its retry
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  a.deallocate(held);
}

TEST(CachingAllocator, BlocksFreedOnABusyStreamStayWithThatStream) {
  cuda::Stream s1, s2;
  CachingAllocator a(0, binned());
  sim::hold_stream(s1.get());
  void* p = a.allocate(1000, s1.get());
  a.deallocate(p);
  void* q = a.allocate(1000, s2.get());
  EXPECT_NE(q, p);
  EXPECT_EQ(a.stats().cuda_malloc_calls, 2u);
  void* r = a.allocate(1000, s1.get());
  EXPECT_EQ(r, p);
  a.deallocate(q);
  a.deallocate(r);
}

TEST(CachingAllocator, AnIdleStreamsFreeSegmentMovesToAnotherStream) {
  cuda::Stream s1, s2;
  CachingAllocator a(0, binned());
  void* p = a.allocate(1000, s1.get());
  a.deallocate(p);
  void* q = a.allocate(5000, s2.get());
  EXPECT_EQ(q, p);
  a.deallocate(q);
  EXPECT_EQ(a.allocate(300, s1.get()), p);
  EXPECT_EQ(a.stats().cuda_malloc_calls, 1u);
  a.deallocate(p);
}

TEST(CachingAllocator, SynchronisingABusyStreamReleasesItsSegments) {
  cuda::Stream s1, s2;
  CachingAllocator a(0, binned());
  sim::hold_stream(s1.get());
  void* p = a.allocate(1000, s1.get());
  a.deallocate(p);
  EXPECT_FALSE(s1.query());
  s1.synchronize();
  void* q = a.allocate(1000, s2.get());
  EXPECT_EQ(q, p);
  EXPECT_EQ(a.stats().cuda_malloc_calls, 1u);
  a.deallocate(q);
}

TEST(CachingAllocator, ARetiredStreamsSegmentsPassToTheDefaultStream) {
  CachingAllocator a(0, binned());
  void* p = nullptr;
  {
    cuda::Stream s;
    p = a.allocate(1000, s.get());
    a.deallocate(p);
    a.retire_stream(s.get());
  }
  sim::hold_stream(nullptr);
  // Taken straight from the default stream's pool: no query of the destroyed stream, and the
  // busy default stream does not matter to its own allocations.
  EXPECT_EQ(a.allocate(1000, nullptr), p);
  EXPECT_EQ(a.stats().cuda_malloc_calls, 1u);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  a.deallocate(p);
}

TEST(CachingAllocator, DestroyingAStreamHandsTheBackendsBlocksOn) {
  cuda::register_cuda_backend();
  cuda::caching_allocator(0).empty_cache();  // no other cached block of this size
  void* first = nullptr;
  {
    cuda::Stream s;
    cuda::StreamGuard guard(s);
    Tensor t = empty({123}, DType::Float32, Device::cuda());
    first = t.raw_data();
  }
  // Still tagged with the destroyed stream, the block would be unusable here (and querying
  // that stream an error).
  const Tensor again = empty({123}, DType::Float32, Device::cuda());
  EXPECT_EQ(again.raw_data(), first);
}

TEST(CachingAllocator, RejectsPointersItDidNotAllocate) {
  CachingAllocator a(0, binned());
  int local = 0;
  EXPECT_THROW(a.deallocate(&local), std::invalid_argument);
}

}  // namespace
