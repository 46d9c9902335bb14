// Rotary position embedding (RoPE) as Llama applies it to queries and keys.
#pragma once
#include "runtime/tensor.h"

namespace emrrg {

// Which dimensions form a rotated pair.
enum class RotaryPairing {
  HalfSplit,    // Hugging Face's rotate_half: i with i + head_dim/2
  Interleaved,  // Meta's and llama2.c's checkpoints: 2i with 2i + 1
};

// x: [batch, heads, L, head_dim] (any strides, float32/bfloat16/float16/float64), head_dim even;
// positions: int32/int64 [L] or [batch, L]. Angle of pair i at position p: p * theta^(-2i/head_dim),
// computed as Hugging Face does (inv_freq and p * inv_freq in float32, cos/sin rounded to x's
// dtype, the rotation in x's dtype). Returns x's shape and dtype; differentiable in x (the
// backward is the rotation by the opposite angle).
Tensor rotary(const Tensor& x, const Tensor& positions, double theta, RotaryPairing pairing);

}  // namespace emrrg
