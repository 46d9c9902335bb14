#include "cuda/caching_allocator.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <utility>

#include "cuda/cuda_check.h"
#include "cuda/stream.h"

namespace emrrg::cuda {

namespace {

size_t round_up(size_t n, size_t multiple) { return (n + multiple - 1) / multiple * multiple; }

std::string format_bytes(size_t n) {
  static const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  char buf[64];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%zu bytes", n);
  else
    std::snprintf(buf, sizeof buf, "%.2f %s", v, units[u]);
  return buf;
}

}  // namespace

bool CachingAllocator::BlockLess::operator()(const Block* a, const Block* b) const {
  const auto sa = reinterpret_cast<uintptr_t>(a->stream), sb = reinterpret_cast<uintptr_t>(b->stream);
  if (sa != sb) return sa < sb;
  if (a->size != b->size) return a->size < b->size;
  return std::less<const char*>()(a->ptr, b->ptr);
}

AllocatorOptions default_allocator_options() {
  AllocatorOptions options;
#if defined(EMRRG_CUDA_SIM)
  options.exact_sizes = true;
#endif
  if (const char* env = std::getenv("EMRRG_CUDA_ALLOCATOR")) {
    const std::string mode = env;
    if (mode == "exact")
      options.exact_sizes = true;
    else if (mode == "binned")
      options.exact_sizes = false;
    else
      throw std::invalid_argument("EMRRG_CUDA_ALLOCATOR must be 'exact' or 'binned', got '" + mode + "'");
  }
  return options;
}

CachingAllocator::CachingAllocator(int device, AllocatorOptions options) : device_(device), options_(options) {}

CachingAllocator::~CachingAllocator() {
  // Segments still holding live blocks stay with the driver: someone may still use them.
  try {
    std::lock_guard<std::mutex> lock(mutex_);
    release_free_segments();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "emrrg: releasing cached CUDA memory: %s\n", e.what());
  }
}

void* CachingAllocator::allocate(size_t nbytes, cudaStream_t stream) {
  if (nbytes == 0) return nullptr;
  if (nbytes > std::numeric_limits<size_t>::max() - kLargeRounding) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.out_of_memory_errors;
    throw_out_of_memory(nbytes, nbytes, nbytes);
  }
  const size_t size = options_.exact_sizes ? nbytes : round_up(nbytes, kMinBlock);
  const bool small = size <= kSmallRequest;
  DeviceGuard guard(device_);
  std::lock_guard<std::mutex> lock(mutex_);
  Block* block = find_cached(size, small, stream);
  if (!block) block = adopt_idle_segment(size, small, stream);
  if (!block) block = new_segment(size, small, stream, nbytes);
  block = split(block, size);
  block->allocated = true;
  block->requested = nbytes;
  live_.emplace(block->ptr, block);
  stats_.allocated_bytes += block->size;
  stats_.requested_bytes += nbytes;
  stats_.peak_allocated_bytes = std::max(stats_.peak_allocated_bytes, stats_.allocated_bytes);
  return block->ptr;
}

void CachingAllocator::deallocate(void* ptr) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(ptr);
  if (it == live_.end()) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "CachingAllocator::deallocate: %p is not a live block of device %d", ptr, device_);
    throw std::invalid_argument(buf);
  }
  Block* block = it->second;
  live_.erase(it);
  stats_.allocated_bytes -= block->size;
  stats_.requested_bytes -= block->requested;
  free_block(block);
}

CachingAllocator::Block* CachingAllocator::find_cached(size_t size, bool small, cudaStream_t stream) {
  Pool& pool = pool_for(small);
  Block key{stream, size, nullptr, small};
  auto it = pool.lower_bound(&key);
  if (it == pool.end() || (*it)->stream != stream || (options_.exact_sizes && (*it)->size != size)) return nullptr;
  Block* block = *it;
  pool.erase(it);
  return block;
}

CachingAllocator::Block* CachingAllocator::adopt_idle_segment(size_t size, bool small, cudaStream_t stream) {
  Pool& pool = pool_for(small);
  std::vector<std::pair<cudaStream_t, bool>> idle;  // streams queried so far
  auto stream_idle = [&](cudaStream_t s) {
    for (const auto& [known, is_idle] : idle)
      if (known == s) return is_idle;
    const cudaError_t err = cudaStreamQuery(s);
    bool is_idle = true;
    if (err == cudaErrorNotReady) {
      (void)cudaGetLastError();
      is_idle = false;
    } else {
      EMRRG_CUDA_CHECK(err);
    }
    idle.emplace_back(s, is_idle);
    return is_idle;
  };
  Block* best = nullptr;
  for (Block* b : pool) {
    if (b->stream == stream || b->prev || b->next || b->size < size) continue;
    if (options_.exact_sizes && b->size != size) continue;
    if (best && b->size >= best->size) continue;
    if (stream_idle(b->stream)) best = b;
  }
  if (!best) return nullptr;
  pool.erase(best);
  best->stream = stream;
  return best;
}

CachingAllocator::Block* CachingAllocator::new_segment(size_t size, bool small, cudaStream_t stream,
                                                       size_t requested) {
  const size_t segment = options_.exact_sizes ? size
                         : small                ? kSmallSegment
                         : size < kMinLargeAlloc ? kLargeSegment
                                                 : round_up(size, kLargeRounding);
  auto try_malloc = [&](size_t bytes) -> void* {
    void* p = nullptr;
    ++stats_.cuda_malloc_calls;
    const cudaError_t err = cudaMalloc(&p, bytes);
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      return nullptr;
    }
    EMRRG_CUDA_CHECK(err);
    return p;
  };
  size_t bytes = segment;
  void* p = try_malloc(bytes);
  if (!p) {
    release_free_segments();
    p = try_malloc(bytes);
  }
  // A large request under kMinLargeAlloc normally brings spare room for its neighbours; when
  // memory is that tight, its own size must do.
  if (!p && !small && !options_.exact_sizes && segment != round_up(size, kLargeRounding)) {
    bytes = round_up(size, kLargeRounding);
    p = try_malloc(bytes);
  }
  if (!p) {
    ++stats_.out_of_memory_errors;
    throw_out_of_memory(requested, size, segment);
  }
  Block* block = new Block{stream, bytes, static_cast<char*>(p), small};
  segments_.insert(block);
  stats_.reserved_bytes += bytes;
  stats_.peak_reserved_bytes = std::max(stats_.peak_reserved_bytes, stats_.reserved_bytes);
  return block;
}

void CachingAllocator::release_free_segments() {
  for (auto it = segments_.begin(); it != segments_.end();) {
    Block* head = *it;
    if (head->allocated || head->next) {
      ++it;
      continue;
    }
    pool_for(head->small).erase(head);
    ++stats_.cuda_free_calls;
    stats_.reserved_bytes -= head->size;
    it = segments_.erase(it);
    char* ptr = head->ptr;
    delete head;
    EMRRG_CUDA_CHECK(cudaFree(ptr));
  }
}

void CachingAllocator::empty_cache() {
  DeviceGuard guard(device_);
  std::lock_guard<std::mutex> lock(mutex_);
  release_free_segments();
}

CachingAllocator::Block* CachingAllocator::split(Block* block, size_t size) {
  if (options_.exact_sizes) return block;
  const size_t remaining = block->size - size;
  // Small-pool remainders serve any later small request; large ones only requests above 1 MiB.
  const bool worth_keeping = block->small ? remaining >= kMinBlock : remaining > kSmallRequest;
  if (!worth_keeping) return block;
  Block* rest = new Block{block->stream, remaining, block->ptr + size, block->small};
  rest->prev = block;
  rest->next = block->next;
  if (block->next) block->next->prev = rest;
  block->next = rest;
  block->size = size;
  pool_for(block->small).insert(rest);
  return block;
}

void CachingAllocator::free_block(Block* block) {
  Pool& pool = pool_for(block->small);
  block->allocated = false;
  block->requested = 0;
  if (Block* prev = block->prev; prev && !prev->allocated) {
    pool.erase(prev);
    prev->size += block->size;
    prev->next = block->next;
    if (block->next) block->next->prev = prev;
    delete block;
    block = prev;
  }
  if (Block* next = block->next; next && !next->allocated) {
    pool.erase(next);
    block->size += next->size;
    block->next = next->next;
    if (next->next) next->next->prev = block;
    delete next;
  }
  pool.insert(block);
}

void CachingAllocator::retire_stream(cudaStream_t stream) noexcept {
  if (stream == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  for (Block* head : segments_) {
    if (head->stream != stream) continue;
    for (Block* b = head; b; b = b->next) {
      if (b->allocated) {
        b->stream = nullptr;
        continue;
      }
      Pool& pool = pool_for(b->small);
      pool.erase(b);
      b->stream = nullptr;
      pool.insert(b);
    }
  }
}

void CachingAllocator::throw_out_of_memory(size_t requested, size_t rounded, size_t segment) {
  size_t free_bytes = 0, total_bytes = 0;
  std::string device_info;
  const cudaError_t err = cudaMemGetInfo(&free_bytes, &total_bytes);
  if (err == cudaSuccess) {
    device_info = format_bytes(free_bytes) + " free of " + format_bytes(total_bytes) + " total";
  } else {
    (void)cudaGetLastError();
    device_info = std::string("free/total unknown (cudaMemGetInfo: ") + cudaGetErrorName(err) + ")";
  }
  const size_t cached = stats_.reserved_bytes - stats_.allocated_bytes;
  throw OutOfMemoryError("CUDA out of memory on device " + std::to_string(device_) + ": tried to allocate " +
                             format_bytes(requested) + " (" + std::to_string(requested) + " bytes, rounded to " +
                             std::to_string(rounded) + ", in a segment of " + format_bytes(segment) +
                             "). This allocator: " + format_bytes(stats_.allocated_bytes) + " allocated (peak " +
                             format_bytes(stats_.peak_allocated_bytes) + "), " + format_bytes(stats_.reserved_bytes) +
                             " reserved, of which " + format_bytes(cached) + " cached in free blocks. Device: " +
                             device_info + ".",
                         requested);
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  AllocatorStats s = stats_;
  s.segments = segments_.size();
  s.live_blocks = live_.size();
  return s;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_allocated_bytes = stats_.allocated_bytes;
  stats_.peak_reserved_bytes = stats_.reserved_bytes;
}

size_t CachingAllocator::block_size(const void* ptr) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(ptr);
  return it == live_.end() ? 0 : it->second->size;
}

CachingAllocator& caching_allocator(int device) {
  static std::array<CachingAllocator*, 64> allocators{};
  static std::mutex mutex;
  if (device < 0 || device >= static_cast<int>(allocators.size()))
    throw std::out_of_range("CUDA device index " + std::to_string(device) + " out of range");
  std::lock_guard<std::mutex> lock(mutex);
  if (!allocators[device]) allocators[device] = new CachingAllocator(device, default_allocator_options());
  return *allocators[device];
}

}  // namespace emrrg::cuda
