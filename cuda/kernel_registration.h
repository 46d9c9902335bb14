// Hands the CUDA kernels to the operators (ops/device_kernels.h) and to the runtime's copy,
// accumulate and fill (runtime/device_kernels.h).
#pragma once

namespace emrrg::cuda {

// Idempotent. register_cuda_backend() (cuda_backend.h) provides the memory; this the maths.
void register_cuda_kernels();

}  // namespace emrrg::cuda
