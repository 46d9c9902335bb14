// An 8-bit image in memory: rows top to bottom, channels interleaved (1 grey, 2 grey+alpha,
// 3 RGB, 4 RGBA).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace emrrg::data {

struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<uint8_t> pixels;  // height * width * channels

  Image() = default;
  Image(int w, int h, int c) : width(w), height(h), channels(c), pixels(static_cast<size_t>(w) * h * c) {}
  bool empty() const { return pixels.empty(); }
  uint8_t* row(int y) { return pixels.data() + static_cast<size_t>(y) * width * channels; }
  const uint8_t* row(int y) const { return pixels.data() + static_cast<size_t>(y) * width * channels; }
  uint8_t& at(int x, int y, int c) { return pixels[(static_cast<size_t>(y) * width + x) * channels + c]; }
  uint8_t at(int x, int y, int c) const { return pixels[(static_cast<size_t>(y) * width + x) * channels + c]; }
};

// Drops alpha and expands grey: 1 or 2 channels -> 1 (grey), 3 or 4 -> 3 (RGB). This is what
// PIL's convert("RGB") keeps of an image, before grey is replicated to three channels.
Image drop_alpha(const Image& in);
// Grey (1 or 2 channels) to RGB by replication, RGBA to RGB by dropping alpha, RGB unchanged.
Image to_rgb(const Image& in);

}  // namespace emrrg::data
