// BERT's encoder (bert-base-uncased's architecture): token + position + token-type embeddings and
// a LayerNorm, then post-LN layers of self-attention (no causal mask, padded keys masked) and a
// GELU (erf) feed-forward, each added to its input and normalised. Parameter names are Hugging
// Face's BertModel names (embeddings.word_embeddings.weight, encoder.layer.3.attention.self.query.weight,
// encoder.layer.3.output.LayerNorm.bias, ...), so its state dicts load by name. Inference only:
// there is no dropout, and no pooler (BertModel's pooler is not part of this module; a checkpoint's
// pooler.* tensors are left out when loading).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/layers.h"

namespace emrrg::models {

struct BertConfig {
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_layers = 12;
  int64_t num_heads = 12;
  int64_t intermediate_size = 3072;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  double layer_norm_eps = 1e-12;

  // bert-base-uncased.
  static BertConfig base() { return {}; }
  // Throws std::invalid_argument naming the field when the sizes cannot describe a model
  // (non-positive sizes, heads not dividing the hidden size).
  void validate(const std::string& source) const;
};

class BertEmbeddings : public nn::Module {
 public:
  BertEmbeddings(const BertConfig& c, Generator* gen, DType dtype);
  // ids, token_types int [B, L] (token_types undefined: all 0) -> [B, L, hidden]; position i is i.
  Tensor forward(const Tensor& ids, const Tensor& token_types) const;
  std::shared_ptr<nn::Embedding> word_embeddings, position_embeddings, token_type_embeddings;
  std::shared_ptr<nn::LayerNorm> LayerNorm;
};

// Hugging Face's BertSelfAttention ("attention.self"): the q/k/v projections.
class BertSelfAttention : public nn::Module {
 public:
  BertSelfAttention(const BertConfig& c, Generator* gen, DType dtype);
  std::shared_ptr<nn::Linear> query, key, value;
};

// A projection, added to the block's input and normalised: BertSelfOutput and BertOutput.
class BertResidualOutput : public nn::Module {
 public:
  BertResidualOutput(int64_t in, int64_t hidden, double eps, Generator* gen, DType dtype);
  Tensor forward(const Tensor& x, const Tensor& input) const;  // LayerNorm(dense(x) + input)
  std::shared_ptr<nn::Linear> dense;
  std::shared_ptr<nn::LayerNorm> LayerNorm;
};

class BertAttention : public nn::Module {
 public:
  BertAttention(const BertConfig& c, Generator* gen, DType dtype);
  // x [B, L, hidden]; key_mask [B, L] (nonzero = token) or undefined -> [B, L, hidden].
  Tensor forward(const Tensor& x, const Tensor& key_mask) const;
  std::shared_ptr<BertSelfAttention> self;
  std::shared_ptr<BertResidualOutput> output;

 private:
  int64_t num_heads_;
};

class BertIntermediate : public nn::Module {
 public:
  BertIntermediate(const BertConfig& c, Generator* gen, DType dtype);
  Tensor forward(const Tensor& x) const;  // gelu(dense(x)), erf form
  std::shared_ptr<nn::Linear> dense;
};

class BertLayer : public nn::Module {
 public:
  BertLayer(const BertConfig& c, Generator* gen, DType dtype);
  Tensor forward(const Tensor& x, const Tensor& key_mask) const;
  std::shared_ptr<BertAttention> attention;
  std::shared_ptr<BertIntermediate> intermediate;
  std::shared_ptr<BertResidualOutput> output;
};

// Hugging Face's ModuleList: children named "0", "1", ...
class BertLayerList : public nn::Module {
 public:
  BertLayerList(const BertConfig& c, Generator* gen, DType dtype);
  std::vector<std::shared_ptr<BertLayer>> layers;
};

// Hugging Face's BertEncoder: its layers are "encoder.layer.<i>".
class BertEncoder : public nn::Module {
 public:
  BertEncoder(const BertConfig& c, Generator* gen, DType dtype);
  std::shared_ptr<BertLayerList> layer;
};

class BertModel : public nn::Module {
 public:
  // Parameters drawn from `gen` as nn::Linear / nn::Embedding / nn::LayerNorm initialise them.
  BertModel(const BertConfig& config, Generator& gen, DType dtype = DType::Float32);
  // Parameters allocated but not initialised: a checkpoint fills them.
  BertModel(const BertConfig& config, DType dtype, nn::Uninitialized);

  const BertConfig& config() const { return config_; }
  Device device() const { return embeddings->word_embeddings->weight.device(); }

  // ids int [B, L]; attention_mask [B, L] (nonzero = token, 0 = padding) or undefined (no
  // padding); token_types int [B, L] or undefined (all 0). Inputs may live on any device: they
  // are moved to the parameters'. Returns the last hidden state [B, L, hidden]; padded positions
  // hold values too (they attend to the tokens), as in transformers.
  Tensor forward(const Tensor& ids, const Tensor& attention_mask = Tensor(), const Tensor& token_types = Tensor()) const;

  std::shared_ptr<BertEmbeddings> embeddings;
  std::shared_ptr<BertEncoder> encoder;

 private:
  BertModel(const BertConfig& config, Generator* gen, DType dtype);
  BertConfig config_;
};

}  // namespace emrrg::models
