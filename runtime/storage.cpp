#include "runtime/storage.h"

namespace emrrg {

Storage::Storage(size_t nbytes, Device device)
    : data_(device_backend(device.type).allocate(nbytes, device)), nbytes_(nbytes), device_(device) {}

Storage::Storage(void* data, size_t nbytes, Device device, std::shared_ptr<void> keep_alive)
    : data_(data), nbytes_(nbytes), device_(device), keep_alive_(std::move(keep_alive)) {}

Storage::~Storage() {
  if (!keep_alive_ && data_) device_backend(device_.type).deallocate(data_, nbytes_, device_);
}

}  // namespace emrrg
