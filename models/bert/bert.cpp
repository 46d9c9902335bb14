#include "models/bert/bert.h"

#include <stdexcept>

#include "ops/attention.h"
#include "ops/elementwise.h"
#include "ops/shape.h"

namespace emrrg::models {
namespace {

std::shared_ptr<nn::Linear> make_linear(int64_t in, int64_t out, Generator* gen, DType dtype) {
  if (gen) return std::make_shared<nn::Linear>(in, out, true, *gen, dtype);
  return std::make_shared<nn::Linear>(in, out, true, dtype, nn::Uninitialized{});
}

std::shared_ptr<nn::Embedding> make_embedding(int64_t num, int64_t dim, Generator* gen, DType dtype) {
  if (gen) return std::make_shared<nn::Embedding>(num, dim, *gen, dtype);
  return std::make_shared<nn::Embedding>(num, dim, dtype, nn::Uninitialized{});
}

void check_ids(const Tensor& t, const char* what, const Shape& shape) {
  if (!t.defined()) return;
  if (t.shape() != shape)
    throw std::invalid_argument(std::string("BertModel: ") + what + " " + shape_str(t.shape()) + " is not " +
                                shape_str(shape));
}

}  // namespace

void BertConfig::validate(const std::string& source) const {
  const auto positive = [&](int64_t v, const char* field) {
    if (v <= 0) throw std::invalid_argument(source + ": BERT " + field + " = " + std::to_string(v) + " must be positive");
  };
  positive(vocab_size, "vocab_size");
  positive(hidden_size, "hidden_size");
  positive(num_layers, "num_hidden_layers");
  positive(num_heads, "num_attention_heads");
  positive(intermediate_size, "intermediate_size");
  positive(max_position_embeddings, "max_position_embeddings");
  positive(type_vocab_size, "type_vocab_size");
  if (hidden_size % num_heads != 0)
    throw std::invalid_argument(source + ": BERT hidden_size " + std::to_string(hidden_size) +
                                " is not a multiple of num_attention_heads " + std::to_string(num_heads));
  if (!(layer_norm_eps > 0)) throw std::invalid_argument(source + ": BERT layer_norm_eps must be positive");
}

BertEmbeddings::BertEmbeddings(const BertConfig& c, Generator* gen, DType dtype) {
  word_embeddings = register_module("word_embeddings", make_embedding(c.vocab_size, c.hidden_size, gen, dtype));
  position_embeddings =
      register_module("position_embeddings", make_embedding(c.max_position_embeddings, c.hidden_size, gen, dtype));
  token_type_embeddings =
      register_module("token_type_embeddings", make_embedding(c.type_vocab_size, c.hidden_size, gen, dtype));
  LayerNorm = register_module("LayerNorm", std::make_shared<nn::LayerNorm>(c.hidden_size, c.layer_norm_eps, true, dtype));
}

Tensor BertEmbeddings::forward(const Tensor& ids, const Tensor& token_types) const {
  const int64_t length = ids.size(1);
  // Positions 0..L-1 are the first L rows; token type 0 (no types given) is row 0. Both broadcast
  // over the batch.
  Tensor h = word_embeddings->forward(ids) + narrow(position_embeddings->weight, 0, 0, length);
  h = h + (token_types.defined() ? token_type_embeddings->forward(token_types)
                                 : narrow(token_type_embeddings->weight, 0, 0, 1));
  return LayerNorm->forward(h);
}

BertSelfAttention::BertSelfAttention(const BertConfig& c, Generator* gen, DType dtype) {
  query = register_module("query", make_linear(c.hidden_size, c.hidden_size, gen, dtype));
  key = register_module("key", make_linear(c.hidden_size, c.hidden_size, gen, dtype));
  value = register_module("value", make_linear(c.hidden_size, c.hidden_size, gen, dtype));
}

BertResidualOutput::BertResidualOutput(int64_t in, int64_t hidden, double eps, Generator* gen, DType dtype) {
  dense = register_module("dense", make_linear(in, hidden, gen, dtype));
  LayerNorm = register_module("LayerNorm", std::make_shared<nn::LayerNorm>(hidden, eps, true, dtype));
}

Tensor BertResidualOutput::forward(const Tensor& x, const Tensor& input) const {
  return LayerNorm->forward(dense->forward(x) + input);
}

BertAttention::BertAttention(const BertConfig& c, Generator* gen, DType dtype) : num_heads_(c.num_heads) {
  self = register_module("self", std::make_shared<BertSelfAttention>(c, gen, dtype));
  output = register_module("output",
                           std::make_shared<BertResidualOutput>(c.hidden_size, c.hidden_size, c.layer_norm_eps, gen, dtype));
}

Tensor BertAttention::forward(const Tensor& x, const Tensor& key_mask) const {
  const int64_t batch = x.size(0), length = x.size(1), hidden = x.size(2), head_dim = hidden / num_heads_;
  // [B, L, hidden] -> [B, heads, L, head_dim] (a view).
  const auto heads = [&](const Tensor& t) { return transpose(reshape(t, {batch, length, num_heads_, head_dim}), 1, 2); };
  const Tensor out = attention(heads(self->query->forward(x)), heads(self->key->forward(x)),
                               heads(self->value->forward(x)), /*causal=*/false, key_mask)
                         .out;
  return output->forward(reshape(transpose(out, 1, 2), {batch, length, hidden}), x);
}

BertIntermediate::BertIntermediate(const BertConfig& c, Generator* gen, DType dtype) {
  dense = register_module("dense", make_linear(c.hidden_size, c.intermediate_size, gen, dtype));
}

Tensor BertIntermediate::forward(const Tensor& x) const { return gelu(dense->forward(x)); }

BertLayer::BertLayer(const BertConfig& c, Generator* gen, DType dtype) {
  attention = register_module("attention", std::make_shared<BertAttention>(c, gen, dtype));
  intermediate = register_module("intermediate", std::make_shared<BertIntermediate>(c, gen, dtype));
  output = register_module(
      "output", std::make_shared<BertResidualOutput>(c.intermediate_size, c.hidden_size, c.layer_norm_eps, gen, dtype));
}

Tensor BertLayer::forward(const Tensor& x, const Tensor& key_mask) const {
  const Tensor h = attention->forward(x, key_mask);
  return output->forward(intermediate->forward(h), h);
}

BertLayerList::BertLayerList(const BertConfig& c, Generator* gen, DType dtype) {
  for (int64_t l = 0; l < c.num_layers; ++l)
    layers.push_back(register_module(std::to_string(l), std::make_shared<BertLayer>(c, gen, dtype)));
}

BertEncoder::BertEncoder(const BertConfig& c, Generator* gen, DType dtype) {
  layer = register_module("layer", std::make_shared<BertLayerList>(c, gen, dtype));
}

BertModel::BertModel(const BertConfig& config, Generator* gen, DType dtype) : config_(config) {
  config_.validate("BertModel");
  embeddings = register_module("embeddings", std::make_shared<BertEmbeddings>(config_, gen, dtype));
  encoder = register_module("encoder", std::make_shared<BertEncoder>(config_, gen, dtype));
}

BertModel::BertModel(const BertConfig& config, Generator& gen, DType dtype) : BertModel(config, &gen, dtype) {}
BertModel::BertModel(const BertConfig& config, DType dtype, nn::Uninitialized) : BertModel(config, nullptr, dtype) {}

Tensor BertModel::forward(const Tensor& ids, const Tensor& attention_mask, const Tensor& token_types) const {
  if (ids.dim() != 2) throw std::invalid_argument("BertModel: ids " + shape_str(ids.shape()) + " are not [batch, length]");
  const int64_t length = ids.size(1);
  if (length < 1 || length > config_.max_position_embeddings)
    throw std::invalid_argument("BertModel: length " + std::to_string(length) + " is outside [1, " +
                                std::to_string(config_.max_position_embeddings) + "] (max_position_embeddings)");
  check_ids(attention_mask, "attention_mask", ids.shape());
  check_ids(token_types, "token_types", ids.shape());
  const Device device = this->device();
  const Tensor key_mask = attention_mask.defined() ? to_device(attention_mask, device) : Tensor();
  Tensor h = embeddings->forward(to_device(ids, device), token_types.defined() ? to_device(token_types, device) : Tensor());
  for (const auto& layer : encoder->layer->layers) h = layer->forward(h, key_mask);
  return h;
}

}  // namespace emrrg::models
