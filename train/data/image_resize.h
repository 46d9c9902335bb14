// Bicubic resampling that reproduces Pillow's Image.resize(size, Image.BICUBIC) — what
// torchvision's transforms.Resize does to the PIL images of R2Gen/R2GenGPT — byte for byte
// on 8-bit images:
//  - cubic convolution kernel with a = -0.5, support 2;
//  - when shrinking, the kernel is stretched by the scale factor (support 2*scale input
//    pixels: an antialiasing low-pass), when enlarging it is not;
//  - output pixel x samples around centre (x + 0.5) * in/out; taps are normalised to sum 1;
//  - weights are converted to 22-bit fixed point and accumulated in int32 with rounding;
//  - a horizontal pass into an 8-bit intermediate (clipped to 0..255), then a vertical pass;
//    a pass is skipped when that side keeps its size.
#pragma once
#include <cstdint>
#include <vector>

#include "train/data/image.h"

namespace emrrg::data {

// Fixed-point taps of one resampling direction: for output i, `count[i]` weights starting at
// input index `first[i]`, stored in `weights[i * ksize ...]`.
struct ResampleTaps {
  int in_size = 0;
  int out_size = 0;
  int ksize = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> weights;
};

// Pillow's coefficients for resampling in_size -> out_size (both > 0).
ResampleTaps bicubic_taps(int in_size, int out_size);

// Resizes an 8-bit image (any channel count) to out_width x out_height.
Image resize_bicubic(const Image& in, int out_width, int out_height);

}  // namespace emrrg::data
