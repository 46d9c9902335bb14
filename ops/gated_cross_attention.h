// The hybrid decoder layer's gated cross-attention (EMRRG, paper 3.4) as one op: the text
// tokens' self-attention queries attend, non-causally, over the visual tokens' keys and values,
// and the result enters the self-attention output through two tanh gates,
//   out = self_out + (cross * tanh(gate_logit)) * tanh(warm_up),  cross = attention(q, k, v).
// The gates are applied in the attention's epilogue and their gradients computed in its
// backward; with warm_up = 0 the output is self_out exactly and k, v and gate_logit get exactly
// zero gradients (the layer starts as the pre-trained layer).
#pragma once
#include "runtime/tensor.h"

namespace emrrg {

// q: [batch, q_heads, Lt, head_dim], the text tokens' self-attention queries after RoPE.
// k, v: [batch, kv_heads, Lv, head_dim], the visual tokens' keys and values (no RoPE), q_heads a
//   multiple of kv_heads (grouped-query attention as in attention()).
// self_out: [batch, q_heads, Lt, head_dim], the self-attention output before o_proj, in the layout
//   attention() returns; the result has this shape too (contiguous), so the layer continues as
//   after attention(): transpose to [batch, Lt, q_heads * head_dim], then o_proj.
// gate_logit: [batch, Lt, 1] or [batch, Lt], cross_attn_gate_proj's output per text token.
// warm_up: one element ([1] or []), the cross_attn_warm_up_gate parameter.
// key_padding_mask: [batch, Lv] bool/uint8/int, nonzero = attend, or undefined; a token that sees
//   no visual key gets cross = 0. scale <= 0 means 1/sqrt(head_dim).
// q, k, v and self_out share one floating dtype (16-bit types compute in float32 and round once);
// gate_logit and warm_up may have any floating dtype. All tensors any strides, one device.
// Differentiable in q, k, v, self_out, gate_logit and warm_up.
Tensor gated_cross_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& self_out,
                             const Tensor& gate_logit, const Tensor& warm_up, const Tensor& key_padding_mask = Tensor(),
                             double scale = 0.0);

}  // namespace emrrg
