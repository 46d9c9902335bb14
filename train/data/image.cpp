#include "train/data/image.h"

#include <stdexcept>
#include <string>

namespace emrrg::data {

Image drop_alpha(const Image& in) {
  if (in.channels == 1 || in.channels == 3) return in;
  if (in.channels != 2 && in.channels != 4)
    throw std::invalid_argument("drop_alpha: unsupported channel count " + std::to_string(in.channels));
  const int oc = in.channels - 1;
  Image out(in.width, in.height, oc);
  const size_t n = static_cast<size_t>(in.width) * in.height;
  for (size_t i = 0; i < n; ++i)
    for (int c = 0; c < oc; ++c) out.pixels[i * oc + c] = in.pixels[i * in.channels + c];
  return out;
}

Image to_rgb(const Image& in) {
  if (in.channels == 3) return in;
  if (in.channels < 1 || in.channels > 4)
    throw std::invalid_argument("to_rgb: unsupported channel count " + std::to_string(in.channels));
  Image out(in.width, in.height, 3);
  const size_t n = static_cast<size_t>(in.width) * in.height;
  for (size_t i = 0; i < n; ++i) {
    if (in.channels <= 2) {
      const uint8_t g = in.pixels[i * in.channels];
      out.pixels[i * 3 + 0] = out.pixels[i * 3 + 1] = out.pixels[i * 3 + 2] = g;
    } else {
      for (int c = 0; c < 3; ++c) out.pixels[i * 3 + c] = in.pixels[i * in.channels + c];
    }
  }
  return out;
}

}  // namespace emrrg::data
