#include "models/emrrg/hybrid_layer.h"

#include <stdexcept>
#include <string>

#include "ops/gated_cross_attention.h"
#include "ops/indexing.h"
#include "ops/shape.h"

namespace emrrg::models {

HybridCrossAttention::HybridCrossAttention(LlamaDecoderLayer& layer, int64_t index, Generator& gen, DType dtype)
    : layer_(layer), index_(index) {
  LlamaAttention& attn = layer.self_attn();
  const LlamaConfig& c = attn.config();
  kv_proj = attn.add_module("cross_attn_kv_proj",
                            std::make_shared<nn::Linear>(c.hidden_size, 2 * c.num_kv_heads * c.head_dim, true, gen, dtype));
  gate_proj = attn.add_module("cross_attn_gate_proj", std::make_shared<nn::Linear>(c.num_heads * c.head_dim, 1, true, gen, dtype));
  warm_up_gate = attn.add_parameter("cross_attn_warm_up_gate", zeros({1}, dtype));
}

void HybridCrossAttention::set_visual(const Tensor& visual) {
  const LlamaConfig& c = layer_.self_attn().config();
  if (visual.dim() != 3 || visual.size(2) != c.hidden_size)
    throw std::invalid_argument("hybrid layer " + std::to_string(index_) + ": visual tokens " + shape_str(visual.shape()) +
                                " are not [batch, tokens, " + std::to_string(c.hidden_size) + "]");
  const int64_t B = visual.size(0), Lv = visual.size(1), kv_dim = c.num_kv_heads * c.head_dim;
  Tensor kv = kv_proj->forward(layer_.input_layernorm().forward(visual));  // [B, Lv, 2 kv_dim]
  k_ = transpose(reshape(narrow(kv, 2, 0, kv_dim), {B, Lv, c.num_kv_heads, c.head_dim}), 1, 2);
  v_ = transpose(reshape(narrow(kv, 2, kv_dim, kv_dim), {B, Lv, c.num_kv_heads, c.head_dim}), 1, 2);
}

void HybridCrossAttention::init_kv_from_self_attention() {
  const auto projections = layer_.self_attn().projections();  // q, k, v, o
  const nn::Linear& k = *projections[1].second;
  const nn::Linear& v = *projections[2].second;
  const int64_t kv_dim = k.out_features();
  copy_into(narrow(kv_proj->weight, 0, 0, kv_dim), k.weight);
  copy_into(narrow(kv_proj->weight, 0, kv_dim, kv_dim), v.weight);
  fill(kv_proj->bias, 0.0);
  if (k.bias.defined()) copy_into(narrow(kv_proj->bias, 0, 0, kv_dim), k.bias);
  if (v.bias.defined()) copy_into(narrow(kv_proj->bias, 0, kv_dim, kv_dim), v.bias);
}

void HybridCrossAttention::clear_visual() {
  k_ = Tensor();
  v_ = Tensor();
}

void HybridCrossAttention::select_rows(const std::vector<int64_t>& rows) {
  if (!k_.defined()) return;
  Tensor index = to_device(from_vector(rows, {static_cast<int64_t>(rows.size())}), k_.device());
  k_ = index_select(k_, 0, index);
  v_ = index_select(v_, 0, index);
}

Tensor HybridCrossAttention::apply(const Tensor& q, const Tensor& attn) const {
  if (!k_.defined())
    throw std::logic_error("hybrid layer " + std::to_string(index_) + ": run without visual tokens (set_visual)");
  const int64_t B = attn.size(0), heads = attn.size(1), L = attn.size(2), head_dim = attn.size(3);
  if (k_.size(0) != B)
    throw std::invalid_argument("hybrid layer " + std::to_string(index_) + ": visual tokens for " +
                                std::to_string(k_.size(0)) + " rows, text for " + std::to_string(B));
  Tensor merged = reshape(transpose(attn, 1, 2), {B, L, heads * head_dim});
  return gated_cross_attention(q, k_, v_, attn, gate_proj->forward(merged), warm_up_gate);
}

std::shared_ptr<HybridCrossAttention> attach_hybrid_layer(LlamaDecoderLayer& layer, int64_t index, Generator& gen,
                                                          DType dtype) {
  auto hybrid = std::make_shared<HybridCrossAttention>(layer, index, gen, dtype);
  layer.self_attn().set_extension(hybrid);
  return hybrid;
}

}  // namespace emrrg::models
