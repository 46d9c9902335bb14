// Devices and the backend interface through which all device memory is allocated, freed,
// copied and filled. The CPU backend lives here; the CUDA backend registers itself from cuda/.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace emrrg {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  static Device cpu() { return {DeviceType::CPU, 0}; }
  static Device cuda(int i = 0) { return {DeviceType::CUDA, i}; }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool operator==(const Device&) const = default;
  std::string str() const;  // "cpu", "cuda:0"
};

class DeviceBackend {
 public:
  virtual ~DeviceBackend() = default;
  virtual std::string name() const = 0;
  virtual int device_count() const = 0;
  virtual void* allocate(size_t nbytes, Device device) = 0;
  virtual void deallocate(void* ptr, size_t nbytes, Device device) = 0;
  // Copies nbytes between two buffers, at least one of which lives on this backend's device.
  virtual void copy(void* dst, Device dst_device, const void* src, Device src_device,
                    size_t nbytes) = 0;
  virtual void memset(void* dst, int byte, size_t nbytes, Device device) = 0;
  // The most bytes of `device`'s memory allocated at once (for the training log): the CUDA
  // caching allocator's peak since the program started (or its reset_peak). 0 where the backend
  // keeps no count (the CPU, whose log has the process's peak resident memory instead).
  virtual size_t peak_allocated_bytes(Device) const { return 0; }
};

// The backend for a device type; throws std::runtime_error if none is registered.
DeviceBackend& device_backend(DeviceType type);
void register_device_backend(DeviceType type, DeviceBackend* backend);
bool has_device_backend(DeviceType type);

// The CPU backend's memory: bytes handed out and not yet freed, and freed bytes it keeps cached.
struct CpuAllocatorStats {
  size_t live_bytes = 0;
  size_t cached_bytes = 0;
};
CpuAllocatorStats cpu_allocator_stats();

}  // namespace emrrg
