#include "models/vision_mamba/patch_embed.h"

#include <cmath>

#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/shape.h"

namespace emrrg::models {

PatchProjection::PatchProjection(int64_t channels, int64_t dim, int64_t patch, Generator& gen, DType dtype) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(channels * patch * patch));
  weight = register_parameter("weight", rand_uniform({dim, channels, patch, patch}, -bound, bound, gen, dtype));
  bias = register_parameter("bias", rand_uniform({dim}, -bound, bound, gen, dtype));
}

void PatchProjection::attach_lora(const nn::LoraOptions& options, Generator& gen) {
  const Shape& w = weight.shape();
  lora = register_module("lora", std::make_shared<nn::LoRA>(w[1] * w[2] * w[3], w[0], options, 0, gen, weight.dtype()));
}

namespace {

// [B, D, h, w] -> [B, h*w, D]
Tensor to_tokens(const Tensor& maps) {
  const Shape& s = maps.shape();
  return reshape(permute(maps, {0, 2, 3, 1}), {s[0], s[2] * s[3], s[1]});
}

}  // namespace

Tensor PatchProjection::forward(const Tensor& images) const {
  Tensor tokens = to_tokens(patch_conv2d(images, weight, bias));
  if (!lora) return tokens;
  // Composed, not lora_linear: the base and down are patch convolutions of the image, not products
  // of token rows; the fused op would need the patches unfolded into rows first.
  const Shape& w = weight.shape();
  Tensor down = reshape(lora->down->weight, {lora->rank(), w[1], w[2], w[3]});
  return tokens + lora->from_rank(to_tokens(patch_conv2d(images, down, Tensor())));
}

PatchEmbed::PatchEmbed(int64_t channels, int64_t dim, int64_t patch, Generator& gen, DType dtype)
    : proj(register_module("proj", std::make_shared<PatchProjection>(channels, dim, patch, gen, dtype))) {}

}  // namespace emrrg::models
