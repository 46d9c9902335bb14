// Vision Mamba encoders: Vim (hustvl/Vim, NOTES §3) and the ARM / MambaXray-VL backbone
// (OliverRensu/ARM Finetuning/models_mamba.py, NOTES §4), with the PEFT adapters of config.h.
//
//   tokens = patch_embed(images)                       [B, M, D], M = (image/patch)^2
//   x = insert cls_token at M/2, + pos_embed           [B, M + 1, D]
//   Vim: per layer h = h + mixer(RMSNorm(h)) (float32 h; mixer "v2"), out = norm_f(h) (RMSNorm)
//   ARM: per layer h = h + mixer(norm1(h)); h = h + mlp(norm2(h)) (LayerNorms, mixer "v3" with
//        expand 1, SwiGLU mlp w3(silu(w1 x) * w2 x) with biases, hidden D*8/3), out = norm_f(h)
//
// Parameter names are the released checkpoints' names:
//   patch_embed.proj.{weight,bias}, cls_token [1,1,D], pos_embed [1,M+1,D], norm_f.*, head.* (when
//   num_classes > 0), layers.{i}.mixer.* (nn/mamba_mixer.h), and per layer
//   Vim: layers.{i}.norm.weight
//   ARM: layers.{i}.norm1.{weight,bias}, layers.{i}.norm2.*, layers.{i}.mlp.{w1,w2,w3}.{weight,bias}
// Adapters: layers.{i}.mixer.in_proj.lora_x.{down,up}.weight, ...in_proj.lora.*, x_proj_b.lora_c.*,
// patch_embed.proj.lora.* (config.h lists them).
//
// Fresh init follows the reference models: patch_embed.proj lecun-normal (timm) with zero bias;
// cls_token and pos_embed N(0, 0.02); Linear biases zero except the forward scan's dt_proj; each
// out_proj scaled by 1/sqrt(depth); norms ones/zeros. Then freezing as config.peft says.
#pragma once
#include <memory>
#include <vector>

#include "models/vision_mamba/config.h"
#include "models/vision_mamba/patch_embed.h"
#include "nn/lora.h"
#include "nn/mamba_block.h"

namespace emrrg::models {

// ARM's MLP: w3(silu(w1 x) * w2 x), all three Linear with bias.
class SwiGLUMLP : public nn::Module {
 public:
  SwiGLUMLP(int64_t dim, int64_t hidden, Generator& gen, DType dtype);
  Tensor forward(const Tensor& x) const;
  std::shared_ptr<nn::Linear> w1, w2, w3;
};

// ARM's block: h + mixer(norm1(h)), then + mlp(norm2(h)).
class ArmBlock : public nn::Module {
 public:
  ArmBlock(const nn::MambaMixerConfig& mixer, double norm_eps, Generator& gen);
  Tensor forward(const Tensor& h) const;
  std::shared_ptr<nn::MambaMixer> mixer;
  std::shared_ptr<SwiGLUMLP> mlp;
  std::shared_ptr<nn::LayerNorm> norm1, norm2;
};

class VisionMamba : public nn::Module {
 public:
  // Validates the config, builds and initialises the model, attaches the configured adapters and
  // freezes what config.peft says does not train.
  explicit VisionMamba(const VisionMambaConfig& config, Generator& gen = default_generator());

  // images [B, channels, image_size, image_size] -> all tokens [B, num_tokens, d_model], the class
  // token at config().class_token_index(); in the weights' dtype.
  Tensor forward(const Tensor& images) const;
  // tokens from forward -> head(class token) [B, num_classes]; needs num_classes > 0.
  Tensor classify(const Tensor& tokens) const;

  const VisionMambaConfig& config() const { return config_; }
  std::vector<nn::MambaMixer*> mixers() const;
  // Sets requires_grad as config.peft says (the constructor does this); returns the number of
  // trainable parameter tensors.
  int apply_freezing();

  std::shared_ptr<PatchEmbed> patch_embed;
  Tensor cls_token, pos_embed;
  std::vector<std::shared_ptr<nn::MambaBlock>> vim_layers;  // kind Vim
  std::vector<std::shared_ptr<ArmBlock>> arm_layers;        // kind Arm
  std::shared_ptr<nn::RMSNorm> rms_norm_f;                  // "norm_f" of Vim
  std::shared_ptr<nn::LayerNorm> layer_norm_f;              // "norm_f" of ARM
  std::shared_ptr<nn::Linear> head;                         // when num_classes > 0

 private:
  void init_weights(Generator& gen);
  void attach_adapters(Generator& gen);
  VisionMambaConfig config_;
};

}  // namespace emrrg::models
