// The image preprocessing of R2Gen/R2GenGPT for evaluation and training (no augmentation):
// PIL convert("RGB"), Resize((size, size), BICUBIC), ToTensor (scale 1/255), Normalize(mean,
// std). Output: float32, channels first (3, size, size).
#pragma once
#include <array>
#include <string>

#include "train/data/image.h"

namespace emrrg::data {

struct ImageTransformConfig {
  int size = 224;
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};  // ImageNet
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};
};

class ImageTransform {
 public:
  explicit ImageTransform(const ImageTransformConfig& config = {});
  const ImageTransformConfig& config() const { return config_; }
  // Floats written by apply(): 3 * size * size.
  size_t output_size() const { return 3 * static_cast<size_t>(config_.size) * config_.size; }

  // Resizes (at the image's own channel count after dropping alpha, which gives the same
  // bytes as resizing the RGB conversion) and normalises into out[3][size][size].
  void apply(const Image& image, float* out) const;
  // Normalises an image already of the output size (1..4 channels) into out[3][size][size].
  void normalise(const Image& image, float* out) const;

 private:
  ImageTransformConfig config_;
  // (v / 255 - mean[c]) / std[c] in float32, as torchvision computes it, for every byte v.
  std::array<std::array<float, 256>, 3> lut_;
};

}  // namespace emrrg::data
