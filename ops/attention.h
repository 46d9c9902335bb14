// Scaled dot-product attention, flash style: tiled with an online softmax, returning the
// log-sum-exp of each query row; the backward recomputes the probabilities from it and never
// stores an L x L matrix.
#pragma once
#include "runtime/tensor.h"

namespace emrrg {

struct AttentionResult {
  Tensor out;  // [batch, q_heads, Lq, head_dim], q's dtype
  Tensor lse;  // [batch, q_heads, Lq] float32: log sum_j exp(scale * q.k_j) over the attended keys;
               // -inf for a row that attends to no key (its out is 0); not differentiable
};

// q: [batch, q_heads, Lq, head_dim]; k, v: [batch, kv_heads, Lk, head_dim] with q_heads a multiple
// of kv_heads (grouped-query attention: q head h reads kv head h / (q_heads / kv_heads)); any
// strides; one dtype (float32, bfloat16, float16 or float64; 16-bit types accumulate in float32).
// causal: query i sees key j only when j <= i + (Lk - Lq) (aligned at the end, as with a KV
// cache). key_padding_mask: [batch, Lk] bool/uint8/int, nonzero = attend, or undefined.
// scale <= 0 means 1/sqrt(head_dim). Differentiable in q, k and v.
AttentionResult attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal,
                          const Tensor& key_padding_mask = Tensor(), double scale = 0.0);

}  // namespace emrrg
