// What kernels and launch heuristics need to know about a GPU, read once from the runtime.
#pragma once
#include <cstddef>
#include <string>

namespace emrrg::cuda {

struct DeviceProperties {
  int index = 0;
  std::string name;
  int major = 0;  // compute capability
  int minor = 0;
  int sm_count = 0;
  size_t total_memory = 0;
  size_t shared_memory_per_block = 0;        // without opting in
  size_t shared_memory_per_block_optin = 0;  // with cudaFuncAttributeMaxDynamicSharedMemorySize
  size_t shared_memory_per_sm = 0;
  int max_threads_per_block = 0;
  int max_threads_per_sm = 0;
  int warp_size = 0;
  int registers_per_block = 0;
  size_t l2_cache_bytes = 0;
  int sm_clock_khz = 0;
  int memory_clock_khz = 0;
  int memory_bus_width_bits = 0;

  // Double data rate: two transfers per memory clock across the whole bus.
  double peak_bandwidth_bytes_per_s() const {
    return 2.0 * memory_clock_khz * 1e3 * (memory_bus_width_bits / 8.0);
  }
  int compute_capability() const { return major * 10 + minor; }
  // One line: name, capability, SMs, memory, bandwidth.
  std::string str() const;
};

// Queries the runtime every time.
DeviceProperties query_device_properties(int device);
// The properties of `device`, queried on first use and kept.
const DeviceProperties& device_properties(int device);

}  // namespace emrrg::cuda
