// A caching allocator for device memory, after PyTorch's CUDACachingAllocator in spirit.
//
// cudaMalloc and cudaFree are slow and cudaFree synchronises the whole device, while a training
// step allocates the same sizes every iteration. So memory is taken from the driver in segments
// and never given back until empty_cache() or an allocation that would otherwise fail:
//  - requests are rounded up to 512 bytes;
//  - requests of at most 1 MiB are carved from 2 MiB segments (the small pool), requests under
//    10 MiB from 20 MiB segments, larger ones get a segment of their size rounded to 2 MiB;
//  - a free block is split when the remainder is worth keeping, and merged with free
//    neighbours of its segment when freed, so a steady-state loop calls cudaMalloc no more.
// Blocks are stream-ordered: a segment belongs to the stream it was allocated for, and its
// blocks are reused only by allocations on that stream, whose work is ordered after any use
// before the free. A wholly free segment moves to another stream once its own stream is idle
// (cudaStreamQuery), since then no queued work can still touch it.
//
// With exact_sizes, a block is exactly the size requested and has a segment to itself, reused
// only for requests of the same size. The SIMT simulator's device buffers end at a guard page,
// so there a kernel overrunning a tensor faults instead of scribbling on its neighbour; a
// training loop, which repeats its sizes, still stops calling cudaMalloc after one step.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace emrrg::cuda {

struct AllocatorStats {
  size_t allocated_bytes = 0;       // live blocks, rounded sizes
  size_t requested_bytes = 0;       // live blocks, sizes as requested
  size_t reserved_bytes = 0;        // segments held from cudaMalloc
  size_t peak_allocated_bytes = 0;  // since construction or reset_peak()
  size_t peak_reserved_bytes = 0;
  size_t cuda_malloc_calls = 0;  // including failed ones
  size_t cuda_free_calls = 0;
  size_t segments = 0;
  size_t live_blocks = 0;
  size_t out_of_memory_errors = 0;
};

struct AllocatorOptions {
  bool exact_sizes = false;
};

// Simulator builds default to exact sizes; EMRRG_CUDA_ALLOCATOR=exact or =binned overrides.
AllocatorOptions default_allocator_options();

// Thrown when a request cannot be met even after the cache was released; the message gives the
// request, the allocator's statistics and the device's free and total memory.
class OutOfMemoryError : public std::runtime_error {
 public:
  OutOfMemoryError(const std::string& what, size_t requested) : std::runtime_error(what), requested_(requested) {}
  size_t requested_bytes() const { return requested_; }

 private:
  size_t requested_;
};

class CachingAllocator {
 public:
  static constexpr size_t kMinBlock = 512;
  static constexpr size_t kSmallRequest = size_t{1} << 20;
  static constexpr size_t kSmallSegment = size_t{2} << 20;
  static constexpr size_t kLargeSegment = size_t{20} << 20;
  static constexpr size_t kMinLargeAlloc = size_t{10} << 20;
  static constexpr size_t kLargeRounding = size_t{2} << 20;

  explicit CachingAllocator(int device, AllocatorOptions options = {});
  // Frees all segments; every block must have been returned.
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // nbytes of device memory for work on `stream`; nullptr for 0 bytes.
  void* allocate(size_t nbytes, cudaStream_t stream);
  // Returns a block from allocate(); it becomes reusable by later work on its stream.
  void deallocate(void* ptr);
  // Gives every wholly free segment back to the driver.
  void empty_cache();
  // The stream has been synchronised and is about to be destroyed: its segments pass to the
  // legacy default stream so the handle, which a new stream may get, owns nothing.
  void retire_stream(cudaStream_t stream) noexcept;

  AllocatorStats stats() const;
  void reset_peak();
  int device() const { return device_; }
  const AllocatorOptions& options() const { return options_; }
  // The rounded size of a live block from this allocator (0 if ptr is not one).
  size_t block_size(const void* ptr) const;

 private:
  struct Block {
    cudaStream_t stream;
    size_t size;
    char* ptr;
    bool small;
    bool allocated = false;
    size_t requested = 0;
    Block* prev = nullptr;  // neighbours within the segment
    Block* next = nullptr;
  };
  struct BlockLess {
    bool operator()(const Block* a, const Block* b) const;
  };
  using Pool = std::set<Block*, BlockLess>;

  Pool& pool_for(bool small) { return small ? small_pool_ : large_pool_; }
  Block* find_cached(size_t size, bool small, cudaStream_t stream);
  Block* adopt_idle_segment(size_t size, bool small, cudaStream_t stream);
  Block* new_segment(size_t size, bool small, cudaStream_t stream, size_t requested);
  void release_free_segments();
  Block* split(Block* block, size_t size);
  void free_block(Block* block);
  [[noreturn]] void throw_out_of_memory(size_t requested, size_t rounded, size_t segment);

  int device_;
  AllocatorOptions options_;
  mutable std::mutex mutex_;
  Pool small_pool_, large_pool_;
  std::unordered_map<const void*, Block*> live_;
  std::set<Block*> segments_;  // first block of each segment
  AllocatorStats stats_;
};

// The process-wide allocator of a device, with default_allocator_options() (never destroyed: tensors owned by static objects
// may be freed after main returns).
CachingAllocator& caching_allocator(int device);

}  // namespace emrrg::cuda
