// Hugging Face transformers' MambaModel (the backbone of MambaForCausalLM): token embeddings,
// Mamba v1 blocks h + mixer(RMSNorm(h)) with a float32 residual, final RMSNorm. Names as HF's
// state dicts: embeddings.weight, layers.{i}.norm.weight, layers.{i}.mixer.{in_proj.weight,
// conv1d.{weight,bias}, x_proj.weight, dt_proj.{weight,bias}, A_log, D, out_proj.weight}, norm_f.weight.
#pragma once
#include <memory>
#include <vector>

#include "nn/layers.h"
#include "nn/mamba_block.h"

namespace emrrg::models {

// The fields of HF's MambaConfig that shape the weights.
struct MambaModelConfig {
  int64_t vocab_size = 50280;
  int64_t hidden_size = 768;
  int64_t state_size = 16;
  int64_t num_hidden_layers = 32;
  int64_t expand = 2;
  int64_t conv_kernel = 4;
  int64_t time_step_rank = 0;  // 0: ceil(hidden_size / 16), HF's "auto"
  double layer_norm_epsilon = 1e-5;
  bool use_bias = false;
  bool use_conv_bias = true;
  DType dtype = DType::Float32;
};

class MambaModel : public nn::Module {
 public:
  explicit MambaModel(const MambaModelConfig& config, Generator& gen = default_generator());
  // ids [B, L] (int32/int64) -> last hidden state [B, L, hidden_size], in the weights' dtype.
  Tensor forward(const Tensor& ids) const;
  const MambaModelConfig& config() const { return config_; }

  std::shared_ptr<nn::Embedding> embeddings;
  std::vector<std::shared_ptr<nn::MambaBlock>> layers;
  std::shared_ptr<nn::RMSNorm> norm_f;

 private:
  MambaModelConfig config_;
};

}  // namespace emrrg::models
