// Data-moving kernels a non-CPU backend provides for the runtime's own primitives
// (copy_into between strided tensors of any dtypes on that device, add_into for gradient
// accumulation, fill). Without them the runtime stages through host memory: correct, slow.
#pragma once
#include "runtime/tensor.h"

namespace emrrg {

struct RuntimeDeviceKernels {
  void (*copy)(const Tensor& dst, const Tensor& src) = nullptr;      // same shape, same device
  void (*add_into)(const Tensor& dst, const Tensor& src) = nullptr;  // dst += src
  void (*fill)(const Tensor& t, double value) = nullptr;
};

void register_runtime_device_kernels(DeviceType type, const RuntimeDeviceKernels* kernels);
// The registered kernels for a device type, or nullptr.
const RuntimeDeviceKernels* runtime_device_kernels(DeviceType type);

}  // namespace emrrg
