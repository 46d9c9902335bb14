// Host entry point of the dropout kernel (dropout.cu). CPU reference: ops/dropout.cpp with
// runtime/random.cpp's bernoulli_mask.
#pragma once
#include <cstdint>

#include "runtime/tensor.h"

namespace emrrg::cuda {

// x's shape and dtype (float32, bfloat16 or float16), contiguous: element i is
// float(1 / keep_prob) rounded to the dtype where philox_uniform(seed, offset, i) <
// float(keep_prob) (the CPU's bernoulli_mask bit for bit), else 0.
Tensor dropout_scale(const Tensor& x, double keep_prob, uint64_t seed, uint64_t offset);

}  // namespace emrrg::cuda
