// Host entry point of the rotary-embedding kernel (rotary.cu); CPU reference: ops/rotary.cpp.
#pragma once
#include "ops/rotary.h"
#include "runtime/tensor.h"

namespace emrrg::cuda {

// x [batch, heads, L, head_dim] (CUDA, float32/bfloat16/float16, any strides) rotated by
// +angle, or by -angle when inverse (the backward); positions int32/int64 [L] or [batch, L] on
// x's device. Returns a contiguous tensor of x's shape and dtype.
Tensor rotary(const Tensor& x, const Tensor& positions, double theta, RotaryPairing pairing, bool inverse);

}  // namespace emrrg::cuda
