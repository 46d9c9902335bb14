// The second pass of a deterministic reduction: a first kernel writes float32 partial sums
// (one per block, chunk or channel group) instead of adding them with float atomics, and this
// sums them in a fixed order, so a gradient is the same bits on every run
// (selective_scan.cu, causal_conv1d.cu).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda/kernels/storage.h"
#include "cuda/launch.h"
#include "runtime/tensor.h"

namespace emrrg::cuda {

// out[o, i] = sum over g = 0, 1, ... of part[o, g, i], rounded once to S.
// part: [outer, groups, inner] float32; out: [outer, inner]
template <typename S>
__global__ void sum_partials_kernel(const float* part, S* out, int64_t outer, int64_t groups, int64_t inner) {
  const int64_t n = outer * inner;
  for (int64_t e = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; e < n; e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t o = e / inner, i = e % inner;
    const float* p = part + o * groups * inner + i;
    float s = 0.0f;
    for (int64_t g = 0; g < groups; ++g) s += p[g * inner];
    out[e] = storage::to_storage<S>(s);
  }
}

// part [outer, groups, inner] float32 contiguous -> out (outer * inner elements, contiguous,
// float32, bfloat16 or float16).
inline void sum_partials(const Tensor& part, const Tensor& out) {
  const int64_t outer = part.shape()[0], groups = part.shape()[1], inner = part.shape()[2];
  if (out.numel() != outer * inner || !out.is_contiguous() || !part.is_contiguous())
    throw std::invalid_argument("sum_partials: " + out.str() + " does not hold the sums of " + part.str());
  if (out.numel() == 0) return;
  storage::dispatch_storage(out.dtype(), [&](auto s) {
    using S = decltype(s);
    EMRRG_LAUNCH(sum_partials_kernel<S>, dim3(storage::grid_for(out.numel())), dim3(storage::kBlock), 0, nullptr,
                 storage::ptr<const float>(part), storage::ptr<S>(out), outer, groups, inner);
  });
}

}  // namespace emrrg::cuda
