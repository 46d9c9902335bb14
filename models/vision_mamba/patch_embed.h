// The patch embedding of Vision Mamba: Conv2d(C, D, P, stride P) with bias, its output flattened to
// tokens in row-major patch order. Names as the checkpoints: patch_embed.proj.{weight,bias}.
#pragma once
#include <memory>

#include "nn/lora.h"

namespace emrrg::models {

// weight [D, C, P, P], bias [D]; an optional LoRA "lora": down [r, C*P*P] applied as a P x P
// stride-P convolution, up [D, r] (MambaPEFT's Conv2dAdapter holds the same numbers as conv
// kernels [r, C, P, P] and [D, r, 1, 1]).
class PatchProjection : public nn::Module {
 public:
  PatchProjection(int64_t channels, int64_t dim, int64_t patch, Generator& gen, DType dtype);
  // images [B, C, H, W] -> tokens [B, (H/P)(W/P), D]
  Tensor forward(const Tensor& images) const;
  void attach_lora(const nn::LoraOptions& options, Generator& gen);
  Tensor weight, bias;
  std::shared_ptr<nn::LoRA> lora;
};

class PatchEmbed : public nn::Module {
 public:
  PatchEmbed(int64_t channels, int64_t dim, int64_t patch, Generator& gen, DType dtype);
  Tensor forward(const Tensor& images) const { return proj->forward(images); }
  std::shared_ptr<PatchProjection> proj;
};

}  // namespace emrrg::models
