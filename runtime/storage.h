// A reference-counted buffer on one device. Tensors share storages; views never copy.
#pragma once
#include <functional>
#include <memory>

#include "runtime/device.h"

namespace emrrg {

class Storage {
 public:
  // Allocates nbytes on `device` through its backend (contents uninitialised).
  Storage(size_t nbytes, Device device);
  // Wraps memory owned by someone else (a memory-mapped file, say); `keep_alive` is held
  // until the storage dies.
  Storage(void* data, size_t nbytes, Device device, std::shared_ptr<void> keep_alive);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_;
  size_t nbytes_;
  Device device_;
  std::shared_ptr<void> keep_alive_;  // empty when the backend owns the memory
};

}  // namespace emrrg
