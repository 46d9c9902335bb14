// Llama-family causal language model (Llama 2, Qwen1.5/Qwen2): token embedding, decoder layers of
// RMSNorm -> grouped-query attention with RoPE -> residual -> RMSNorm -> SwiGLU MLP -> residual,
// a final RMSNorm and the vocabulary projection. Parameter names are Hugging Face's
// (model.embed_tokens.weight, model.layers.3.self_attn.q_proj.weight, model.norm.weight,
// lm_head.weight), so state dicts are exchangeable with transformers'.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/llama/kv_cache.h"
#include "models/llama/llama_config.h"
#include "nn/layers.h"

namespace emrrg::models {

// A term a decoder variant mixes into the self-attention output before o_proj (models/emrrg's
// hybrid layers add a gated cross-attention to the image there).
class AttentionExtension {
 public:
  virtual ~AttentionExtension() = default;
  // q [B, heads, L, head_dim] the queries after RoPE, attn [B, heads, L, head_dim] the
  // self-attention output -> what o_proj receives instead, attn's shape.
  virtual Tensor apply(const Tensor& q, const Tensor& attn) const = 0;
};

class LlamaAttention : public nn::Module {
 public:
  LlamaAttention(const LlamaConfig& c, int64_t layer, Generator* gen, DType dtype);
  // x [B, L, hidden]; positions int64 [B, L]; key_mask [B, Lk] or undefined -> [B, L, hidden].
  Tensor forward(const Tensor& x, const Tensor& positions, const Tensor& key_mask, KVCache* cache) const;

  // For an extension: its modules and parameters are registered here, so that checkpoints name
  // them self_attn.<name> beside q_proj.
  template <typename M> std::shared_ptr<M> add_module(const std::string& name, std::shared_ptr<M> m) {
    return register_module(name, std::move(m));
  }
  Tensor add_parameter(const std::string& name, Tensor value) { return register_parameter(name, std::move(value)); }
  void set_extension(std::shared_ptr<const AttentionExtension> extension) { extension_ = std::move(extension); }
  const LlamaConfig& config() const { return config_; }
  // q_proj, k_proj, v_proj, o_proj: where the LLM's LoRA adapters attach.
  std::vector<std::pair<std::string, nn::Linear*>> projections() const;

 private:
  const LlamaConfig& config_;
  int64_t layer_;
  std::shared_ptr<nn::Linear> q_proj_, k_proj_, v_proj_, o_proj_;
  std::shared_ptr<const AttentionExtension> extension_;
};

class LlamaMLP : public nn::Module {
 public:
  LlamaMLP(const LlamaConfig& c, Generator* gen, DType dtype);
  Tensor forward(const Tensor& x) const;  // down(silu(gate(x)) * up(x))
  // gate_proj, up_proj, down_proj.
  std::vector<std::pair<std::string, nn::Linear*>> projections() const;

 private:
  std::shared_ptr<nn::Linear> gate_proj_, up_proj_, down_proj_;
};

class LlamaDecoderLayer : public nn::Module {
 public:
  LlamaDecoderLayer(const LlamaConfig& c, int64_t layer, Generator* gen, DType dtype);
  Tensor forward(const Tensor& x, const Tensor& positions, const Tensor& key_mask, KVCache* cache) const;
  LlamaAttention& self_attn() const { return *self_attn_; }
  LlamaMLP& mlp() const { return *mlp_; }
  const nn::RMSNorm& input_layernorm() const { return *input_layernorm_; }

 private:
  std::shared_ptr<nn::RMSNorm> input_layernorm_, post_attention_layernorm_;
  std::shared_ptr<LlamaAttention> self_attn_;
  std::shared_ptr<LlamaMLP> mlp_;
};

// Hugging Face's ModuleList: children named "0", "1", ...
class LlamaLayers : public nn::Module {
 public:
  LlamaLayers(const LlamaConfig& c, Generator* gen, DType dtype);
  std::vector<std::shared_ptr<LlamaDecoderLayer>> layers;
};

// Hugging Face's LlamaModel / Qwen2Model: the decoder without its vocabulary projection.
class LlamaModel : public nn::Module {
 public:
  LlamaModel(const LlamaConfig& c, Generator* gen, DType dtype);
  std::shared_ptr<nn::Embedding> embed_tokens;
  std::shared_ptr<LlamaLayers> layers;
  std::shared_ptr<nn::RMSNorm> norm;
};

class Llama : public nn::Module {
 public:
  // Parameters drawn from `gen` (nn::Linear's and nn::Embedding's initialisations) in `dtype`.
  Llama(const LlamaConfig& config, Generator& gen, DType dtype = DType::Float32);
  // Parameters allocated but not initialised: a checkpoint loader fills or replaces them.
  Llama(const LlamaConfig& config, DType dtype, nn::Uninitialized);

  const LlamaConfig& config() const { return config_; }
  const std::vector<std::shared_ptr<LlamaDecoderLayer>>& layers() const { return model_->layers->layers; }
  const nn::Embedding& embed_tokens() const { return *model_->embed_tokens; }
  Device device() const { return model_->embed_tokens->weight.device(); }

  // ids int [B, L] -> input embeddings [B, L, hidden].
  Tensor embed(const Tensor& ids) const;
  // The decoder on input embeddings (token embeddings, or visual tokens projected to the hidden
  // size): embeds [B, L, hidden]; attention_mask [B, L] (nonzero = token, 0 = left padding) or
  // undefined (no padding). With a cache, the L new positions follow those cached, attend to them,
  // and are appended; attention_mask then covers the new positions only. Returns the final-norm
  // hidden states [B, L, hidden]. Positions come from the mask as generate() computes them.
  Tensor hidden_states(const Tensor& embeds, const Tensor& attention_mask = Tensor(), KVCache* cache = nullptr) const;
  // hidden [..., hidden] -> logits [..., vocab].
  Tensor logits(const Tensor& hidden) const;
  // ids [B, L] -> logits [B, L, vocab] (embed, hidden_states, logits).
  Tensor forward(const Tensor& ids, const Tensor& attention_mask = Tensor(), KVCache* cache = nullptr) const;

  // An empty cache for `rows` sequences in the parameters' dtype and device.
  KVCache make_cache(int64_t rows, int64_t capacity = 64) const;

 private:
  Llama(const LlamaConfig& config, Generator* gen, DType dtype);

  // The layers keep a reference to config_, so a Llama is neither copied nor moved (Module is
  // not copyable anyway).
  LlamaConfig config_;
  std::shared_ptr<LlamaModel> model_;
  std::shared_ptr<nn::Linear> lm_head_;  // null when tied to embed_tokens
};

}  // namespace emrrg::models
