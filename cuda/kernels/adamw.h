// Host entry point of the fused AdamW step (adamw.cu). CPU reference: train::AdamW::step in
// train/optimizer.cpp (PyTorch's update rule).
#pragma once
#include "ops/device_kernels.h"
#include "runtime/tensor.h"

namespace emrrg::cuda {

// In place, in float32: param (contiguous float32, bfloat16 or float16) and its float32
// moments m, v (contiguous, param's numel) take one step with gradient grad (param's shape,
// any strides, floating).
void adamw_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                const DeviceKernels::AdamWScalars& s);

}  // namespace emrrg::cuda
