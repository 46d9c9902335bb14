#include "cuda/device_properties.h"

#include <cuda_runtime_api.h>

#include <array>
#include <cstdio>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "cuda/cuda_check.h"

namespace emrrg::cuda {

namespace {

int attribute(cudaDeviceAttr attr, int device) {
  int value = 0;
  EMRRG_CUDA_CHECK(cudaDeviceGetAttribute(&value, attr, device));
  return value;
}

}  // namespace

std::string DeviceProperties::str() const {
  char buf[512];
  std::snprintf(buf, sizeof buf, "cuda:%d %s, sm_%d%d, %d SMs, %.1f GiB, %.0f GB/s, %zu KiB shared/block (%zu opt-in)",
                index, name.c_str(), major, minor, sm_count, static_cast<double>(total_memory) / (1 << 30),
                peak_bandwidth_bytes_per_s() / 1e9, shared_memory_per_block / 1024, shared_memory_per_block_optin / 1024);
  return buf;
}

DeviceProperties query_device_properties(int device) {
  cudaDeviceProp prop{};
  EMRRG_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  DeviceProperties p;
  p.index = device;
  p.name = prop.name;
  p.major = prop.major;
  p.minor = prop.minor;
  p.sm_count = prop.multiProcessorCount;
  p.total_memory = prop.totalGlobalMem;
  p.shared_memory_per_block = prop.sharedMemPerBlock;
  p.shared_memory_per_block_optin = prop.sharedMemPerBlockOptin;
  p.shared_memory_per_sm = prop.sharedMemPerMultiprocessor;
  p.max_threads_per_block = prop.maxThreadsPerBlock;
  p.max_threads_per_sm = prop.maxThreadsPerMultiProcessor;
  p.warp_size = prop.warpSize;
  p.registers_per_block = prop.regsPerBlock;
  p.l2_cache_bytes = static_cast<size_t>(prop.l2CacheSize);
  // CUDA 13 dropped the clock fields from cudaDeviceProp; the attributes remain.
  p.sm_clock_khz = attribute(cudaDevAttrClockRate, device);
  p.memory_clock_khz = attribute(cudaDevAttrMemoryClockRate, device);
  p.memory_bus_width_bits = attribute(cudaDevAttrGlobalMemoryBusWidth, device);
  return p;
}

const DeviceProperties& device_properties(int device) {
  static std::array<std::unique_ptr<DeviceProperties>, 64> cache;
  static std::mutex mutex;
  if (device < 0 || device >= static_cast<int>(cache.size()))
    throw std::out_of_range("CUDA device index " + std::to_string(device) + " out of range");
  std::lock_guard<std::mutex> lock(mutex);
  auto& entry = cache[static_cast<size_t>(device)];
  if (!entry) entry = std::make_unique<DeviceProperties>(query_device_properties(device));
  return *entry;
}

}  // namespace emrrg::cuda
