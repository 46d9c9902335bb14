#include "models/mamba/mamba_model.h"

#include "ops/shape.h"

namespace emrrg::models {

MambaModel::MambaModel(const MambaModelConfig& c, Generator& gen) : config_(c) {
  embeddings =
      register_module("embeddings", std::make_shared<nn::Embedding>(c.vocab_size, c.hidden_size, gen, c.dtype));
  nn::MambaMixerConfig m;
  m.d_model = c.hidden_size;
  m.d_state = c.state_size;
  m.d_conv = c.conv_kernel;
  m.expand = c.expand;
  m.dt_rank = c.time_step_rank;
  m.conv_bias = c.use_conv_bias;
  m.bias = c.use_bias;
  m.dtype = c.dtype;
  for (int64_t i = 0; i < c.num_hidden_layers; ++i)
    layers.push_back(
        register_module("layers." + std::to_string(i), std::make_shared<nn::MambaBlock>(m, c.layer_norm_epsilon, gen)));
  norm_f = register_module("norm_f", std::make_shared<nn::RMSNorm>(c.hidden_size, c.layer_norm_epsilon, c.dtype));
}

Tensor MambaModel::forward(const Tensor& ids) const {
  Tensor h = cast(embeddings->forward(ids), DType::Float32);
  for (const auto& layer : layers) h = layer->forward(h);
  return norm_f->forward(cast(h, config_.dtype));
}

}  // namespace emrrg::models
