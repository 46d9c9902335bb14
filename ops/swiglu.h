// The gated feed-forward activation of Llama's MLP: silu(gate) * up, one fused op.
#pragma once
#include "runtime/tensor.h"

namespace emrrg {

// gate, up: one shape and dtype (any strides). Returns silu(gate) * up; differentiable in both.
Tensor swiglu(const Tensor& gate, const Tensor& up);

}  // namespace emrrg
