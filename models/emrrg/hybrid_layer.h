// The hybrid decoder layer of EMRRG (paper §3.4, NOTES §7): a Llama decoder layer whose
// self-attention output is joined, before o_proj, by a gated cross-attention of the same queries
// to the visual tokens:
//
//   v = input_layernorm(visual)                     the layer's own RMSNorm, shared with the text
//   k, v = cross_attn_kv_proj(v)                    no RoPE, n_kv_heads heads (GQA as the self-attention)
//   cross = attention(q, k, v, non-causal)          q: the self-attention queries after RoPE
//   g_d = tanh(cross_attn_gate_proj(self_out))      per token, from the self-attention output
//   g_s = tanh(cross_attn_warm_up_gate)             one scalar, 0 at initialisation
//   o_proj(self_out + (cross * g_d) * g_s)
//
// With the warm-up gate at 0 the layer is exactly the pre-trained layer. The cross-attention and both
// gates are one fused op (ops/gated_cross_attention.h).
#pragma once
#include <memory>

#include "models/llama/llama.h"

namespace emrrg::models {

class HybridCrossAttention final : public AttentionExtension {
 public:
  // Registers cross_attn_kv_proj (Linear(hidden, 2 * kv_heads * head_dim), bias),
  // cross_attn_gate_proj (Linear(heads * head_dim, 1), bias; PyTorch's init) and
  // cross_attn_warm_up_gate ([1], 0) under `layer`'s self_attn, in `dtype`; attach_hybrid_layer
  // hooks it in. `index` names the layer in errors.
  HybridCrossAttention(LlamaDecoderLayer& layer, int64_t index, Generator& gen, DType dtype);

  // visual [B, Lv, hidden]: the projected visual tokens the layer attends to until the next call or
  // clear_visual(); their keys and values are computed here, once.
  void set_visual(const Tensor& visual);
  // cross_attn_kv_proj := [k_proj; v_proj] (weights and, where they have them, biases; else 0).
  void init_kv_from_self_attention();
  void clear_visual();
  // Row i of the visual keys/values becomes old row rows[i] (beam search's select_rows).
  void select_rows(const std::vector<int64_t>& rows);

  Tensor apply(const Tensor& q, const Tensor& attn) const override;

  int64_t index() const { return index_; }
  std::shared_ptr<nn::Linear> kv_proj, gate_proj;
  Tensor warm_up_gate;

 private:
  const LlamaDecoderLayer& layer_;
  int64_t index_;
  Tensor k_, v_;  // [B, kv_heads, Lv, head_dim]
};

// Makes decoder layer `layer` (number `index`) a hybrid layer.
std::shared_ptr<HybridCrossAttention> attach_hybrid_layer(LlamaDecoderLayer& layer, int64_t index, Generator& gen,
                                                          DType dtype);

}  // namespace emrrg::models
