// The flash-style CPU attention kernels (ops/attention.cpp), shared by the ops built on them
// (attention, gated_cross_attention). Inputs and outputs are contiguous compute-type arrays
// (float or double); instantiated for both.
#pragma once
#include <cstdint>
#include <vector>

#include "runtime/tensor.h"

namespace emrrg::detail {

// One call's sizes and options, validated.
struct AttentionShape {
  int64_t batch, q_heads, kv_heads, Lq, Lk, head_dim;
  bool causal;
  double scale;  // > 0

  int64_t group() const { return q_heads / kv_heads; }
  // One past the last key that query i may see before the padding mask (<= 0: none).
  int64_t key_end(int64_t i) const;
  // The first query that sees key j under the causal rule.
  int64_t first_query(int64_t j) const;
};

// q [B, Hq, Lq, D]; k, v [B, Hk, Lk, D]; keep [B, Lk] (1 = attend) or null.
template <typename T>
struct AttentionInputs {
  const T *q, *k, *v;
  const uint8_t* keep;
};

// The gated cross-attention epilogue: gated [B, Hq, Lq, D] = self_out + (out * token_gate) *
// warm_up_gate, written beside out while each output row is still in cache.
template <typename T>
struct AttentionGates {
  const T* self_out;    // [B, Hq, Lq, D]
  const T* token_gate;  // [B, Lq], shared by the heads
  T warm_up_gate;
  T* gated;  // [B, Hq, Lq, D]
};

// out [B, Hq, Lq, D], lse [B, Hq, Lq] (-inf and a zero row where no key is seen); with gates,
// also gates->gated.
template <typename T>
void attention_forward_cpu(const AttentionShape& a, const AttentionInputs<T>& in, T* out, T* lse,
                           const AttentionGates<T>* gates = nullptr);

// delta [B, Hq, Lq] = rowsum(dout * out) over head_dim, the backward's correction term.
template <typename T>
void attention_row_dots(const AttentionShape& a, const T* dout, const T* out, T* delta);

// dq, dk, dv from the forward's lse, delta and the output gradient dout * dout_row_scale (a
// [B, Hq, Lq] factor per row, applied on the fly; null for 1): dq per query tile, dk and dv per
// key tile summed over a GQA group in order, so the result does not depend on the thread count.
template <typename T>
void attention_backward_cpu(const AttentionShape& a, const AttentionInputs<T>& in, const T* lse, const T* delta,
                            const T* dout, const T* dout_row_scale, T* dq, T* dk, T* dv);

// A tensor as a contiguous compute-type array.
inline Tensor compute_copy(const Tensor& t, DType ct) { return to_contiguous(convert(t, ct)); }

// The checks of attention()'s arguments, errors naming `op`.
void check_attention_inputs(const char* op, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask);
// The shape of a checked call; scale <= 0 resolves to 1/sqrt(head_dim).
AttentionShape attention_shape(const Tensor& q, const Tensor& k, bool causal, double scale);
// The key padding mask as 0/1 bytes [B * Lk]; empty when undefined.
std::vector<uint8_t> keep_bytes(const Tensor& mask);

}  // namespace emrrg::detail
