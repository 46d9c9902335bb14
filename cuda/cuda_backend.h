// The DeviceBackend for DeviceType::CUDA: memory from the caching allocator on the current
// stream, copies and memsets on the current stream. DeviceBackend::copy and memset return once
// the data is in place (they synchronise the stream), so host code may read or reuse the host
// buffer immediately.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>

namespace emrrg::cuda {

// Registers the backend with emrrg::register_device_backend (idempotent, thread-safe).
void register_cuda_backend();

// Copies between pageable host memory and the device through reused pinned staging buffers:
// pageable memory cannot be read by the copy engines directly, and chunking lets the host
// memcpy of one chunk overlap the DMA of the previous one. Both return when the copy is done.
void copy_host_to_device(void* dst, const void* src, size_t nbytes, cudaStream_t stream);
void copy_device_to_host(void* dst, const void* src, size_t nbytes, cudaStream_t stream);

// Bytes per pinned staging buffer (each copy in flight uses two).
constexpr size_t kStagingChunk = size_t{4} << 20;

}  // namespace emrrg::cuda
