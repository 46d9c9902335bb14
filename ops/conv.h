// The patch embedding of vision transformers and Vision Mamba: a 2-D convolution whose kernel
// equals its stride, computed as unfold + one GEMM.
#pragma once
#include "runtime/tensor.h"

namespace emrrg {

// x [B, C, H, W], weight [O, C, P, P], bias [O] or undefined -> [B, O, H/P, W/P]; like
// torch's Conv2d(C, O, P, stride=P), trailing rows/columns that do not fill a patch are dropped.
Tensor patch_conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias);

}  // namespace emrrg
