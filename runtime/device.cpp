#include "runtime/device.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

namespace emrrg {

std::string Device::str() const {
  return type == DeviceType::CPU ? std::string("cpu") : "cuda:" + std::to_string(index);
}

namespace {

// 64-byte alignment keeps every tensor start aligned for AVX-512 loads and cache lines.
class CpuBackend final : public DeviceBackend {
 public:
  std::string name() const override { return "cpu"; }
  int device_count() const override { return 1; }
  void* allocate(size_t nbytes, Device) override {
    if (nbytes == 0) return nullptr;
    const size_t rounded = (nbytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded);
    if (!p) throw std::bad_alloc();
    return p;
  }
  void deallocate(void* ptr, size_t, Device) override { std::free(ptr); }
  void copy(void* dst, Device, const void* src, Device, size_t nbytes) override {
    if (nbytes) std::memmove(dst, src, nbytes);
  }
  void memset(void* dst, int byte, size_t nbytes, Device) override {
    if (nbytes) std::memset(dst, byte, nbytes);
  }
};

CpuBackend cpu_backend;
DeviceBackend* backends[2] = {&cpu_backend, nullptr};

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

}  // namespace emrrg
