// The inverted-dropout scale from a Philox stream. Philox is counter-based (runtime/philox.h,
// compiled for the device too), so element i here is the CPU's element i for the same seed
// and offset: dropout drops the same elements on either device.
#include "cuda/kernels/dropout.h"

#include "cuda/kernels/storage.h"
#include "runtime/philox.h"

namespace emrrg::cuda {

namespace {

using storage::kBlock;
using storage::ptr;
using storage::to_storage;

// out[i] = uniform_i < keep ? scale : 0, uniform_i = word i % 4 of Philox block i / 4: each
// thread computes one block and writes its four elements.          out: [n] contiguous
template <typename S>
__global__ void dropout_scale_kernel(S* out, int64_t n, uint64_t seed, uint64_t offset, float keep, float scale) {
  const int64_t blocks = (n + 3) / 4;
  for (int64_t b = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; b < blocks; b += int64_t{gridDim.x} * blockDim.x) {
    uint32_t w[4];
    philox_block(seed, offset, static_cast<uint64_t>(b), w);
    for (int k = 0; k < 4 && 4 * b + k < n; ++k)
      out[4 * b + k] = to_storage<S>(philox_uniform_bits(w[k]) < keep ? scale : 0.0f);
  }
}

}  // namespace

Tensor dropout_scale(const Tensor& x, double keep_prob, uint64_t seed, uint64_t offset) {
  storage::check_cuda_floating("dropout", x);
  if (!(keep_prob > 0 && keep_prob <= 1))
    throw std::invalid_argument("dropout: keep probability " + std::to_string(keep_prob) + " outside (0, 1]");
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  const int64_t n = out.numel();
  if (n == 0) return out;
  // The CPU compares against float(keep_prob) and scales by float(1 / keep_prob).
  const float keep = static_cast<float>(keep_prob), scale = static_cast<float>(1.0 / keep_prob);
  storage::dispatch_storage(x.dtype(), [&](auto s) {
    using S = decltype(s);
    EMRRG_LAUNCH(dropout_scale_kernel<S>, dim3(storage::grid_for((n + 3) / 4)), dim3(kBlock), 0, nullptr, ptr<S>(out),
                 n, seed, offset, keep, scale);
  });
  return out;
}

}  // namespace emrrg::cuda
