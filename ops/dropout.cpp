#include "ops/dropout.h"

#include "ops/device_kernels.h"
#include "ops/elementwise.h"
#include "ops/kernel_util.h"

namespace emrrg {

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  if (p < 0 || p > 1) detail::op_error("dropout", "p = " + std::to_string(p) + " outside [0, 1]");
  if (!training || p == 0) return x;
  detail::check_floating("dropout", x);
  if (p == 1) return mul(x, 0.0);
  Tensor scale;
  if (x.device().is_cpu()) {
    Tensor keep = bernoulli_mask(x.shape(), 1.0 - p, gen);
    scale = mul(convert(keep, x.dtype()), 1.0 / (1.0 - p));
  } else {
    // The same draw as bernoulli_mask: one offset of gen, element i of its Philox stream.
    const uint64_t seed = gen.seed(), offset = gen.next_offset();
    scale = device_kernel("dropout", x, &DeviceKernels::dropout_scale)(x, 1.0 - p, seed, offset);
  }
  return mul(x, scale);  // the mask is a constant: the gradient is g * mask / (1 - p)
}

}  // namespace emrrg
