// Inverted dropout with a Philox mask: the same seed and offset drop the same elements on
// every device.
#pragma once
#include "runtime/random.h"
#include "runtime/tensor.h"

namespace emrrg {

// In training, zeroes each element with probability p and scales the rest by 1/(1-p);
// otherwise returns x.
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen = default_generator());

}  // namespace emrrg
