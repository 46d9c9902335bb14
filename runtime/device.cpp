#include "runtime/device.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>

namespace emrrg {

std::string Device::str() const {
  return type == DeviceType::CPU ? std::string("cpu") : "cuda:" + std::to_string(index);
}

namespace {

// Freed blocks are kept, by size, and handed out again: a training step allocates the same
// sizes every iteration, and first-touch page faults on fresh memory cost more than the
// arithmetic of most elementwise ops. 64-byte alignment suits AVX-512 loads and cache lines.
// Sanitizer builds skip the cache so AddressSanitizer sees every use after free.
class CpuBackend final : public DeviceBackend {
 public:
  std::string name() const override { return "cpu"; }
  int device_count() const override { return 1; }
  void* allocate(size_t nbytes, Device) override {
    if (nbytes == 0) return nullptr;
    const size_t rounded = round_size(nbytes);
    live_bytes_.fetch_add(rounded, std::memory_order_relaxed);
    if (kCacheEnabled) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = cache_.find(rounded);
      if (it != cache_.end()) {
        void* p = it->second;
        cache_.erase(it);
        cached_bytes_ -= rounded;
        return p;
      }
    }
    void* p = std::aligned_alloc(64, rounded);
    if (!p) {
      live_bytes_.fetch_sub(rounded, std::memory_order_relaxed);
      throw std::bad_alloc();
    }
    return p;
  }
  void deallocate(void* ptr, size_t nbytes, Device) override {
    if (!ptr) return;
    const size_t rounded = round_size(nbytes);
    live_bytes_.fetch_sub(rounded, std::memory_order_relaxed);
    if (kCacheEnabled) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_bytes_ + rounded <= kMaxCachedBytes) {
        cache_.emplace(rounded, ptr);
        cached_bytes_ += rounded;
        return;
      }
    }
    std::free(ptr);
  }
  void copy(void* dst, Device, const void* src, Device, size_t nbytes) override {
    if (nbytes) std::memmove(dst, src, nbytes);
  }
  void memset(void* dst, int byte, size_t nbytes, Device) override {
    if (nbytes) std::memset(dst, byte, nbytes);
  }
  CpuAllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {live_bytes_.load(std::memory_order_relaxed), cached_bytes_};
  }

 private:
  static size_t round_size(size_t n) { return n < 65536 ? (n + 63) / 64 * 64 : (n + 4095) / 4096 * 4096; }
#if defined(__SANITIZE_ADDRESS__)
  static constexpr bool kCacheEnabled = false;
#else
  static constexpr bool kCacheEnabled = true;
#endif
  static constexpr size_t kMaxCachedBytes = size_t{2} << 30;
  std::mutex mutex_;
  std::multimap<size_t, void*> cache_;
  size_t cached_bytes_ = 0;
  std::atomic<size_t> live_bytes_{0};  // for the profiler's memory track
};

// Never destroyed: tensors held by other static objects may be freed after main returns.
CpuBackend* cpu_backend = new CpuBackend();
DeviceBackend* backends[2] = {cpu_backend, nullptr};

}  // namespace

DeviceBackend& device_backend(DeviceType type) {
  DeviceBackend* b = backends[static_cast<int>(type)];
  if (!b)
    throw std::runtime_error(std::string("no backend registered for device type ") +
                             (type == DeviceType::CUDA ? "cuda (built without CUDA support?)" : "cpu"));
  return *b;
}

void register_device_backend(DeviceType type, DeviceBackend* backend) {
  backends[static_cast<int>(type)] = backend;
}

bool has_device_backend(DeviceType type) { return backends[static_cast<int>(type)] != nullptr; }

CpuAllocatorStats cpu_allocator_stats() { return cpu_backend->stats(); }

}  // namespace emrrg
