#include "ops/dropout.h"

#include "ops/elementwise.h"
#include "ops/kernel_util.h"

namespace emrrg {

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  if (p < 0 || p > 1) detail::op_error("dropout", "p = " + std::to_string(p) + " outside [0, 1]");
  if (!training || p == 0) return x;
  detail::check_floating("dropout", x);
  if (p == 1) return mul(x, 0.0);
  Tensor keep = bernoulli_mask(x.shape(), 1.0 - p, gen);
  Tensor scale = mul(convert(keep, x.dtype()), 1.0 / (1.0 - p));
  return mul(x, scale);  // the mask is a constant: the gradient is g * mask / (1 - p)
}

}  // namespace emrrg
