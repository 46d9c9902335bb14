#include "train/data/image_transform.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "train/data/image_resize.h"

namespace emrrg::data {

ImageTransform::ImageTransform(const ImageTransformConfig& config) : config_(config) {
  if (config_.size <= 0 || config_.size > 8192)
    throw std::invalid_argument("image size must be in 1..8192, got " + std::to_string(config_.size));
  for (int c = 0; c < 3; ++c) {
    if (!(config_.std[c] > 0.0f) || !std::isfinite(config_.std[c]) || !std::isfinite(config_.mean[c]))
      throw std::invalid_argument("image normalisation: std must be positive and mean finite (channel " +
                                  std::to_string(c) + ")");
    for (int v = 0; v < 256; ++v) {
      // Two float32 operations, in torchvision's order (ToTensor divides, Normalize subtracts
      // then divides); volatile keeps the compiler from fusing them.
      volatile float scaled = static_cast<float>(v) / 255.0f;
      volatile float centred = scaled - config_.mean[c];
      lut_[c][v] = centred / config_.std[c];
    }
  }
}

void ImageTransform::normalise(const Image& image, float* out) const {
  const int s = config_.size;
  if (image.width != s || image.height != s)
    throw std::invalid_argument("normalise: image is " + std::to_string(image.width) + "x" +
                                std::to_string(image.height) + ", expected " + std::to_string(s) + "x" + std::to_string(s));
  const size_t plane = static_cast<size_t>(s) * s;
  const int ch = image.channels;
  const uint8_t* p = image.pixels.data();
  if (ch <= 2) {
    for (size_t i = 0; i < plane; ++i) {
      const uint8_t g = p[i * ch];
      out[i] = lut_[0][g];
      out[plane + i] = lut_[1][g];
      out[2 * plane + i] = lut_[2][g];
    }
  } else {
    for (size_t i = 0; i < plane; ++i) {
      out[i] = lut_[0][p[i * ch]];
      out[plane + i] = lut_[1][p[i * ch + 1]];
      out[2 * plane + i] = lut_[2][p[i * ch + 2]];
    }
  }
}

void ImageTransform::apply(const Image& image, float* out) const {
  Image without_alpha;
  const Image* base = &image;
  if (image.channels == 2 || image.channels == 4) {
    without_alpha = drop_alpha(image);
    base = &without_alpha;
  }
  if (base->width == config_.size && base->height == config_.size) {
    normalise(*base, out);
    return;
  }
  normalise(resize_bicubic(*base, config_.size, config_.size), out);
}

}  // namespace emrrg::data
