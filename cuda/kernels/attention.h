// Host entry points of the attention kernels (attention.cu); CPU reference: ops/attention.cpp.
#pragma once
#include <vector>

#include "runtime/tensor.h"

namespace emrrg::cuda {

// q [b, Hq, Lq, hd], k and v [b, Hkv, Lk, hd] (CUDA, one dtype of float32/bfloat16/float16, any
// strides, Hq a multiple of Hkv), key_padding_mask contiguous uint8 [b, Lk] (1 = attend) or
// undefined; causal aligns query i with key i + Lk - Lq. Returns {out [b, Hq, Lq, hd] q's dtype,
// lse [b, Hq, Lq] float32 (-inf where a row sees no key, whose out is 0)}.
// bf16/fp16 with head dims 64 and 128 run flash-style on the tensor cores; Lq = 1 (decoding
// against a KV cache) splits the keys over blocks and combines the parts; anything else
// (float32, other head dims up to 256) takes a warp-per-row path.
std::vector<Tensor> attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, bool causal,
                                      const Tensor& key_padding_mask, double scale);
// {dq, dk, dv} from the forward's inputs, its out and lse, and dout (q's shape and dtype):
// probabilities recomputed from lse, dk and dv summed over each GQA group in a fixed order,
// no float atomics (the same bits on every run).
std::vector<Tensor> attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                                       const Tensor& lse, const Tensor& dout, bool causal,
                                       const Tensor& key_padding_mask, double scale);

// The gated cross-attention (gated_cross_attention.cu) runs these kernels with two hooks.
// Forward: its epilogue also writes gated = self_out + (out * tanh(gate_logit[b, i])) *
// tanh(warm_up[0]) while each output row is in registers. self_out and gated: contiguous, q's shape
// and dtype; gate_logit: contiguous float32 [b, Lq]; warm_up: float32 [1]; all on q's device.
struct AttentionGates {
  Tensor self_out, gate_logit, warm_up, gated;
};
// Non-causal attention_forward that fills gates.gated as well (never the Lq = 1 decode path).
std::vector<Tensor> gated_attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                            const Tensor& key_padding_mask, double scale, const AttentionGates& gates);
// rowsum(dout * out) over the last dim, float32 (out's shape without it): the backward's delta.
Tensor attention_row_dots(const Tensor& out, const Tensor& dout);
// The backward for the output gradient dout * row_scale (float32 [b, Hq, Lq], a factor per query
// row applied inside the kernels; undefined for 1) with its delta = rowsum(dout * row_scale * out)
// given (float32 [b, Hq, Lq]): {dq, dk, dv}, as attention_backward.
std::vector<Tensor> attention_backward_scaled(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& lse,
                                              const Tensor& dout, const Tensor& delta, const Tensor& row_scale,
                                              bool causal, const Tensor& key_padding_mask, double scale);

}  // namespace emrrg::cuda
