#include "models/llama/llama.h"

#include <stdexcept>
#include <string>

#include "ops/attention.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "ops/rotary.h"
#include "ops/shape.h"
#include "ops/swiglu.h"

namespace emrrg::models {
namespace {

std::shared_ptr<nn::Linear> make_linear(int64_t in, int64_t out, bool bias, Generator* gen, DType dtype) {
  if (gen) return std::make_shared<nn::Linear>(in, out, bias, *gen, dtype);
  return std::make_shared<nn::Linear>(in, out, bias, dtype, nn::Uninitialized{});
}

// [B, L, heads * head_dim] -> [B, heads, L, head_dim] (a view).
Tensor split_heads(const Tensor& x, int64_t heads, int64_t head_dim) {
  return transpose(reshape(x, {x.size(0), x.size(1), heads, head_dim}), 1, 2);
}

}  // namespace

LlamaAttention::LlamaAttention(const LlamaConfig& c, int64_t layer, Generator* gen, DType dtype)
    : config_(c), layer_(layer) {
  const int64_t q_dim = c.num_heads * c.head_dim, kv_dim = c.num_kv_heads * c.head_dim;
  q_proj_ = register_module("q_proj", make_linear(c.hidden_size, q_dim, c.qkv_bias, gen, dtype));
  k_proj_ = register_module("k_proj", make_linear(c.hidden_size, kv_dim, c.qkv_bias, gen, dtype));
  v_proj_ = register_module("v_proj", make_linear(c.hidden_size, kv_dim, c.qkv_bias, gen, dtype));
  o_proj_ = register_module("o_proj", make_linear(q_dim, c.hidden_size, c.o_bias, gen, dtype));
}

Tensor LlamaAttention::forward(const Tensor& x, const Tensor& positions, const Tensor& key_mask,
                               KVCache* cache) const {
  const LlamaConfig& c = config_;
  Tensor q = split_heads(q_proj_->forward(x), c.num_heads, c.head_dim);  // [B, heads, L, head_dim]
  Tensor k = split_heads(k_proj_->forward(x), c.num_kv_heads, c.head_dim);
  Tensor v = split_heads(v_proj_->forward(x), c.num_kv_heads, c.head_dim);
  q = rotary(q, positions, c.rope_theta, c.rope_pairing);
  k = rotary(k, positions, c.rope_theta, c.rope_pairing);
  if (cache) std::tie(k, v) = cache->store(layer_, k, v);  // [B, kv_heads, cached + L, head_dim]
  Tensor out = attention(q, k, v, /*causal=*/true, key_mask).out;  // [B, heads, L, head_dim]
  if (extension_) out = extension_->apply(q, out);
  return o_proj_->forward(reshape(transpose(out, 1, 2), {x.size(0), x.size(1), c.num_heads * c.head_dim}));
}

std::vector<std::pair<std::string, nn::Linear*>> LlamaAttention::projections() const {
  return {{"q_proj", q_proj_.get()}, {"k_proj", k_proj_.get()}, {"v_proj", v_proj_.get()}, {"o_proj", o_proj_.get()}};
}

LlamaMLP::LlamaMLP(const LlamaConfig& c, Generator* gen, DType dtype) {
  gate_proj_ = register_module("gate_proj", make_linear(c.hidden_size, c.intermediate_size, c.mlp_bias, gen, dtype));
  up_proj_ = register_module("up_proj", make_linear(c.hidden_size, c.intermediate_size, c.mlp_bias, gen, dtype));
  down_proj_ = register_module("down_proj", make_linear(c.intermediate_size, c.hidden_size, c.mlp_bias, gen, dtype));
}

Tensor LlamaMLP::forward(const Tensor& x) const {
  return down_proj_->forward(swiglu(gate_proj_->forward(x), up_proj_->forward(x)));
}

std::vector<std::pair<std::string, nn::Linear*>> LlamaMLP::projections() const {
  return {{"gate_proj", gate_proj_.get()}, {"up_proj", up_proj_.get()}, {"down_proj", down_proj_.get()}};
}

LlamaDecoderLayer::LlamaDecoderLayer(const LlamaConfig& c, int64_t layer, Generator* gen, DType dtype) {
  self_attn_ = register_module("self_attn", std::make_shared<LlamaAttention>(c, layer, gen, dtype));
  mlp_ = register_module("mlp", std::make_shared<LlamaMLP>(c, gen, dtype));
  input_layernorm_ = register_module("input_layernorm", std::make_shared<nn::RMSNorm>(c.hidden_size, c.rms_norm_eps, dtype));
  post_attention_layernorm_ =
      register_module("post_attention_layernorm", std::make_shared<nn::RMSNorm>(c.hidden_size, c.rms_norm_eps, dtype));
}

Tensor LlamaDecoderLayer::forward(const Tensor& x, const Tensor& positions, const Tensor& key_mask,
                                  KVCache* cache) const {
  Tensor h = x + self_attn_->forward(input_layernorm_->forward(x), positions, key_mask, cache);
  return h + mlp_->forward(post_attention_layernorm_->forward(h));
}

LlamaLayers::LlamaLayers(const LlamaConfig& c, Generator* gen, DType dtype) {
  for (int64_t l = 0; l < c.num_layers; ++l)
    layers.push_back(register_module(std::to_string(l), std::make_shared<LlamaDecoderLayer>(c, l, gen, dtype)));
}

LlamaModel::LlamaModel(const LlamaConfig& c, Generator* gen, DType dtype) {
  embed_tokens = register_module("embed_tokens", gen ? std::make_shared<nn::Embedding>(c.vocab_size, c.hidden_size, *gen, dtype)
                                                     : std::make_shared<nn::Embedding>(c.vocab_size, c.hidden_size, dtype,
                                                                                       nn::Uninitialized{}));
  layers = register_module("layers", std::make_shared<LlamaLayers>(c, gen, dtype));
  norm = register_module("norm", std::make_shared<nn::RMSNorm>(c.hidden_size, c.rms_norm_eps, dtype));
}

Llama::Llama(const LlamaConfig& config, Generator* gen, DType dtype) : config_(config) {
  config_.validate("Llama");
  model_ = register_module("model", std::make_shared<LlamaModel>(config_, gen, dtype));
  if (!config_.tie_word_embeddings)
    lm_head_ = register_module("lm_head", make_linear(config_.hidden_size, config_.vocab_size, false, gen, dtype));
}

Llama::Llama(const LlamaConfig& config, Generator& gen, DType dtype) : Llama(config, &gen, dtype) {}
Llama::Llama(const LlamaConfig& config, DType dtype, nn::Uninitialized) : Llama(config, nullptr, dtype) {}

Tensor Llama::embed(const Tensor& ids) const { return model_->embed_tokens->forward(ids); }

Tensor Llama::hidden_states(const Tensor& embeds, const Tensor& attention_mask, KVCache* cache) const {
  if (embeds.dim() != 3 || embeds.size(2) != config_.hidden_size)
    throw std::invalid_argument("Llama: input embeddings " + shape_str(embeds.shape()) + " are not [batch, length, " +
                                std::to_string(config_.hidden_size) + "]");
  const int64_t batch = embeds.size(0), length = embeds.size(1);
  if (attention_mask.defined() && attention_mask.shape() != Shape{batch, length})
    throw std::invalid_argument("Llama: attention_mask " + shape_str(attention_mask.shape()) + " is not " +
                                shape_str({batch, length}));
  Tensor positions, key_mask;
  if (cache) {
    if (cache->rows() != batch)
      throw std::invalid_argument("Llama: the cache has " + std::to_string(cache->rows()) + " rows, the input " +
                                  std::to_string(batch));
    positions = cache->extend(attention_mask, length);
    key_mask = cache->key_mask();
  } else {
    std::vector<int64_t> earlier(batch, 0);
    positions = positions_from_mask(attention_mask, batch, length, earlier);
    if (attention_mask.defined()) key_mask = to_device(attention_mask, embeds.device());
  }
  positions = to_device(positions, embeds.device());
  Tensor h = embeds;
  for (const auto& layer : model_->layers->layers) h = layer->forward(h, positions, key_mask, cache);
  return model_->norm->forward(h);
}

Tensor Llama::logits(const Tensor& hidden) const {
  return lm_head_ ? lm_head_->forward(hidden) : linear(hidden, model_->embed_tokens->weight);
}

Tensor Llama::forward(const Tensor& ids, const Tensor& attention_mask, KVCache* cache) const {
  return logits(hidden_states(embed(ids), attention_mask, cache));
}

KVCache Llama::make_cache(int64_t rows, int64_t capacity) const {
  const Tensor& w = model_->embed_tokens->weight;
  return KVCache(config_.num_layers, rows, config_.num_kv_heads, config_.head_dim, w.dtype(), w.device(), capacity);
}

}  // namespace emrrg::models
