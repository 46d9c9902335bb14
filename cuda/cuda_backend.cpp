#include "cuda/cuda_backend.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "cuda/caching_allocator.h"
#include "cuda/cuda_check.h"
#include "cuda/kernel_timer.h"
#include "cuda/stream.h"
#include "runtime/device.h"

namespace emrrg::cuda {

namespace {

// Two pinned buffers, so the host fills (or drains) one while the copy engine works on the
// other; `done[i]` marks when the DMA using buffer i has finished.
struct StagingBuffers {
  std::array<void*, 2> host{};
  std::array<cudaEvent_t, 2> done{};
  std::array<bool, 2> pending{};
};

// Pinned memory is slow to allocate, so buffers are kept for the life of the process and
// shared by the threads of a device one copy at a time.
class StagingPool {
 public:
  std::unique_ptr<StagingBuffers> acquire() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!free_.empty()) {
        auto b = std::move(free_.back());
        free_.pop_back();
        return b;
      }
    }
    auto b = std::make_unique<StagingBuffers>();
    for (int i = 0; i < 2; ++i) {
      EMRRG_CUDA_CHECK(cudaMallocHost(&b->host[i], kStagingChunk));
      EMRRG_CUDA_CHECK(cudaEventCreateWithFlags(&b->done[i], cudaEventDisableTiming));
    }
    return b;
  }
  void release(std::unique_ptr<StagingBuffers> b) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(std::move(b));
  }

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<StagingBuffers>> free_;
};

StagingPool& staging_pool(int device) {
  static std::array<StagingPool*, 64> pools{};
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  auto& p = pools.at(static_cast<size_t>(device));
  if (!p) p = new StagingPool();
  return *p;
}

// Borrows staging buffers; returns them only once no DMA still uses them, even when a copy
// fails half way.
class StagingLease {
 public:
  explicit StagingLease(int device) : pool_(staging_pool(device)), buffers_(pool_.acquire()) {}
  ~StagingLease() {
    for (int i = 0; i < 2; ++i)
      if (buffers_->pending[i]) EMRRG_CUDA_CHECK_NOTHROW(cudaEventSynchronize(buffers_->done[i]));
    buffers_->pending = {};
    pool_.release(std::move(buffers_));
  }
  StagingLease(const StagingLease&) = delete;
  StagingLease& operator=(const StagingLease&) = delete;
  StagingBuffers& get() { return *buffers_; }

 private:
  StagingPool& pool_;
  std::unique_ptr<StagingBuffers> buffers_;
};

class CudaBackend final : public DeviceBackend {
 public:
  std::string name() const override { return "cuda"; }
  int device_count() const override { return cuda::device_count(); }

  void* allocate(size_t nbytes, Device device) override {
    return caching_allocator(device.index).allocate(nbytes, current_stream(device.index));
  }

  void deallocate(void* ptr, size_t, Device device) override { caching_allocator(device.index).deallocate(ptr); }

  void copy(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes) override {
    if (nbytes == 0) return;
    if (dst_device.is_cpu()) {
      DeviceGuard guard(src_device.index);
      copy_device_to_host(dst, src, nbytes, current_stream(src_device.index));
    } else if (src_device.is_cpu()) {
      DeviceGuard guard(dst_device.index);
      copy_host_to_device(dst, src, nbytes, current_stream(dst_device.index));
    } else {
      DeviceGuard guard(dst_device.index);
      const cudaStream_t stream = current_stream(dst_device.index);
      // Between two devices unified addressing lets the runtime find both ends.
      const cudaMemcpyKind kind = dst_device == src_device ? cudaMemcpyDeviceToDevice : cudaMemcpyDefault;
      EMRRG_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, kind, stream));
      EMRRG_CUDA_CHECK(cudaStreamSynchronize(stream));
    }
  }

  void memset(void* dst, int byte, size_t nbytes, Device device) override {
    if (nbytes == 0) return;
    DeviceGuard guard(device.index);
    const cudaStream_t stream = current_stream(device.index);
    EMRRG_CUDA_CHECK(cudaMemsetAsync(dst, byte, nbytes, stream));
    EMRRG_CUDA_CHECK(cudaStreamSynchronize(stream));
  }

  size_t peak_allocated_bytes(Device device) const override {
    return caching_allocator(device.index).stats().peak_allocated_bytes;
  }
};

}  // namespace

void copy_host_to_device(void* dst, const void* src, size_t nbytes, cudaStream_t stream) {
  if (nbytes == 0) return;
  StagingLease lease(current_device());
  StagingBuffers& s = lease.get();
  const char* in = static_cast<const char*>(src);
  char* out = static_cast<char*>(dst);
  for (size_t offset = 0, chunk = 0; offset < nbytes; ++chunk) {
    const size_t len = std::min(kStagingChunk, nbytes - offset);
    const size_t slot = chunk % 2;
    if (s.pending[slot]) {
      EMRRG_CUDA_CHECK(cudaEventSynchronize(s.done[slot]));
      s.pending[slot] = false;
    }
    std::memcpy(s.host[slot], in + offset, len);
    EMRRG_CUDA_CHECK(cudaMemcpyAsync(out + offset, s.host[slot], len, cudaMemcpyHostToDevice, stream));
    EMRRG_CUDA_CHECK(cudaEventRecord(s.done[slot], stream));
    s.pending[slot] = true;
    offset += len;
  }
  EMRRG_CUDA_CHECK(cudaStreamSynchronize(stream));
  s.pending = {};
}

void copy_device_to_host(void* dst, const void* src, size_t nbytes, cudaStream_t stream) {
  if (nbytes == 0) return;
  StagingLease lease(current_device());
  StagingBuffers& s = lease.get();
  const char* in = static_cast<const char*>(src);
  char* out = static_cast<char*>(dst);
  const size_t chunks = (nbytes + kStagingChunk - 1) / kStagingChunk;
  auto chunk_len = [&](size_t chunk) { return std::min(kStagingChunk, nbytes - chunk * kStagingChunk); };
  auto issue = [&](size_t chunk) {
    const size_t slot = chunk % 2;
    EMRRG_CUDA_CHECK(cudaMemcpyAsync(s.host[slot], in + chunk * kStagingChunk, chunk_len(chunk),
                                     cudaMemcpyDeviceToHost, stream));
    EMRRG_CUDA_CHECK(cudaEventRecord(s.done[slot], stream));
    s.pending[slot] = true;
  };
  for (size_t chunk = 0; chunk < std::min<size_t>(chunks, 2); ++chunk) issue(chunk);
  for (size_t chunk = 0; chunk < chunks; ++chunk) {
    const size_t slot = chunk % 2;
    EMRRG_CUDA_CHECK(cudaEventSynchronize(s.done[slot]));
    s.pending[slot] = false;
    std::memcpy(out + chunk * kStagingChunk, s.host[slot], chunk_len(chunk));
    if (chunk + 2 < chunks) issue(chunk + 2);
  }
}

void register_cuda_backend() {
  static std::once_flag once;
  std::call_once(once, [] { register_device_backend(DeviceType::CUDA, new CudaBackend()); });
  install_profiling();
}

}  // namespace emrrg::cuda
