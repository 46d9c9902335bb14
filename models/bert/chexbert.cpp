#include "models/bert/chexbert.h"

#include <stdexcept>

#include "ops/indexing.h"
#include "ops/shape.h"
#include "runtime/checkpoint.h"
#include "runtime/torch_checkpoint.h"

namespace emrrg::models {

ChexbertHeads::ChexbertHeads(int64_t hidden, Generator* gen, DType dtype) {
  for (int c = 0; c < kNumChexbertConditions; ++c) {
    const int classes = chexbert_head_classes(c);
    heads.push_back(register_module(std::to_string(c), gen ? std::make_shared<nn::Linear>(hidden, classes, true, *gen, dtype)
                                                           : std::make_shared<nn::Linear>(hidden, classes, true, dtype,
                                                                                          nn::Uninitialized{})));
  }
}

Chexbert::Chexbert(const BertConfig& config, Generator* gen, DType dtype) {
  bert = register_module("bert", gen ? std::make_shared<BertModel>(config, *gen, dtype)
                                     : std::make_shared<BertModel>(config, dtype, nn::Uninitialized{}));
  linear_heads = register_module("linear_heads", std::make_shared<ChexbertHeads>(config.hidden_size, gen, dtype));
}

Chexbert::Chexbert(const BertConfig& config, Generator& gen, DType dtype) : Chexbert(config, &gen, dtype) {}
Chexbert::Chexbert(const BertConfig& config, DType dtype, nn::Uninitialized) : Chexbert(config, nullptr, dtype) {}

Tensor Chexbert::logits(const Tensor& ids, const Tensor& attention_mask) const {
  const Tensor cls = select(bert->forward(ids, attention_mask), 1, 0);  // [B, hidden]
  std::vector<Tensor> out;
  for (const auto& head : linear_heads->heads) out.push_back(head->forward(cls));
  return cat(out, 1);
}

std::vector<std::array<int, kNumChexbertConditions>> Chexbert::classify(const Tensor& ids,
                                                                        const Tensor& attention_mask) const {
  const std::vector<float> values = to_device(logits(ids, attention_mask), Device::cpu()).to_vector<float>();
  const auto batch = static_cast<std::size_t>(ids.size(0));
  std::vector<std::array<int, kNumChexbertConditions>> out(batch);
  for (std::size_t b = 0; b < batch; ++b) {
    const float* row = values.data() + b * kChexbertLogits;
    for (int c = 0; c < kNumChexbertConditions; ++c) {
      const int classes = chexbert_head_classes(c);
      int best = 0;  // the first maximum, as torch.argmax
      for (int k = 1; k < classes; ++k)
        if (row[k] > row[best]) best = k;
      out[b][static_cast<std::size_t>(c)] = best;
      row += classes;
    }
  }
  return out;
}

std::unique_ptr<Chexbert> load_chexbert(const std::string& path, int64_t num_heads) {
  CheckpointOptions options;
  if (looks_like_torch_save(path)) options.key = "model_state_dict";
  options.rename_prefixes = {{"module.", ""}};
  options.exclude = {"bert\\.pooler\\..*", "bert\\.embeddings\\.position_ids"};
  const auto state = read_checkpoint(path, options);
  const auto shape_of = [&](const std::string& name, int64_t rank) {
    const auto it = state.find(name);
    if (it == state.end()) throw std::runtime_error("CheXbert checkpoint '" + path + "' has no tensor " + name);
    if (it->second.dim() != rank)
      throw std::runtime_error("CheXbert checkpoint '" + path + "': " + name + " is " + shape_str(it->second.shape()) +
                               ", expected rank " + std::to_string(rank));
    return it->second.shape();
  };
  BertConfig config;
  const Shape words = shape_of("bert.embeddings.word_embeddings.weight", 2);
  config.vocab_size = words[0];
  config.hidden_size = words[1];
  config.max_position_embeddings = shape_of("bert.embeddings.position_embeddings.weight", 2)[0];
  config.type_vocab_size = shape_of("bert.embeddings.token_type_embeddings.weight", 2)[0];
  config.intermediate_size = shape_of("bert.encoder.layer.0.intermediate.dense.weight", 2)[0];
  config.num_layers = 0;
  while (state.count("bert.encoder.layer." + std::to_string(config.num_layers) + ".attention.self.query.weight"))
    ++config.num_layers;
  config.num_heads = num_heads > 0 ? num_heads : std::max<int64_t>(1, config.hidden_size / 64);
  try {
    config.validate("CheXbert checkpoint '" + path + "'");
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
  auto model = std::make_unique<Chexbert>(config, DType::Float32, nn::Uninitialized{});
  try {
    model->load_state_dict(state);
  } catch (const std::exception& e) {
    throw std::runtime_error("CheXbert checkpoint '" + path + "': " + e.what());
  }
  model->eval();
  return model;
}

}  // namespace emrrg::models
