#include "train/data/image_resize.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace emrrg::data {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double cubic(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

inline uint8_t clip8(int32_t acc) {
  const int32_t v = acc >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Filters along y; row r of `src` holds input row r + row_offset. `acc` is scratch. The
// inner loop runs over a contiguous row, so it vectorises (with an AVX2 clone where the CPU
// has it; integer arithmetic, so every clone gives the same bytes).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void vertical_pass(const uint8_t* src, int row_bytes, uint8_t* dst, int row_offset, const ResampleTaps& t,
                   int32_t* acc) {
  for (int y = 0; y < t.out_size; ++y) {
    for (int i = 0; i < row_bytes; ++i) acc[i] = 1 << (kPrecisionBits - 1);
    const int32_t* w = &t.weights[static_cast<size_t>(y) * t.ksize];
    for (int k = 0; k < t.count[y]; ++k) {
      const uint8_t* s = src + static_cast<size_t>(t.first[y] - row_offset + k) * row_bytes;
      const int32_t wk = w[k];
      for (int i = 0; i < row_bytes; ++i) acc[i] += static_cast<int32_t>(s[i]) * wk;
    }
    uint8_t* d = dst + static_cast<size_t>(y) * row_bytes;
    for (int i = 0; i < row_bytes; ++i) d[i] = clip8(acc[i]);
  }
}

// Copies a block of `rows` x `cols` pixels (C channels each) to its transpose:
// dst[x * dst_stride + r * C + c] = src[r * src_stride + x * C + c].
template <int C>
void transpose_pixels(const uint8_t* src, size_t src_stride, uint8_t* dst, size_t dst_stride, int rows, int cols) {
  constexpr int kTile = 32;
  for (int r0 = 0; r0 < rows; r0 += kTile) {
    const int r1 = std::min(rows, r0 + kTile);
    for (int x0 = 0; x0 < cols; x0 += kTile) {
      const int x1 = std::min(cols, x0 + kTile);
      for (int r = r0; r < r1; ++r) {
        const uint8_t* s = src + static_cast<size_t>(r) * src_stride;
        for (int x = x0; x < x1; ++x)
          for (int c = 0; c < C; ++c) dst[static_cast<size_t>(x) * dst_stride + static_cast<size_t>(r) * C + c] = s[x * C + c];
      }
    }
  }
}

// The horizontal pass, done as a vertical pass over the transposed rows: input column x
// becomes line x (its `rows` pixels, channels interleaved), so the same vectorised loop
// filters it. Same arithmetic as filtering each row directly.
template <int C>
void horizontal_pass(const Image& in, int row_first, int rows, const ResampleTaps& t, Image& out, std::vector<int32_t>& acc) {
  const int W = in.width;
  const size_t line = static_cast<size_t>(rows) * C;
  std::vector<uint8_t> lines(static_cast<size_t>(W) * line);
  transpose_pixels<C>(in.row(row_first), static_cast<size_t>(W) * C, lines.data(), line, rows, W);
  std::vector<uint8_t> filtered(static_cast<size_t>(t.out_size) * line);
  acc.resize(line);
  vertical_pass(lines.data(), static_cast<int>(line), filtered.data(), 0, t, acc.data());
  // Back: line x of `filtered` holds output column x; element r * C + c is row r, channel c.
  for (int r = 0; r < rows; ++r) {
    uint8_t* d = out.row(r);
    for (int x = 0; x < t.out_size; ++x)
      for (int c = 0; c < C; ++c) d[x * C + c] = filtered[static_cast<size_t>(x) * line + static_cast<size_t>(r) * C + c];
  }
}

}  // namespace

ResampleTaps bicubic_taps(int in_size, int out_size) {
  if (in_size <= 0 || out_size <= 0)
    throw std::invalid_argument("bicubic_taps: sizes must be positive, got " + std::to_string(in_size) + " -> " +
                                std::to_string(out_size));
  ResampleTaps t;
  t.in_size = in_size;
  t.out_size = out_size;
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 2.0 * filterscale;
  t.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.weights.assign(static_cast<size_t>(out_size) * t.ksize, 0);
  std::vector<double> k(t.ksize);
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    // Truncation toward zero, then clamping, as Pillow does.
    int lo = static_cast<int>(center - support + 0.5);
    if (lo < 0) lo = 0;
    int hi = static_cast<int>(center + support + 0.5);
    if (hi > in_size) hi = in_size;
    const int n = hi - lo;
    double sum = 0.0;
    for (int j = 0; j < n; ++j) {
      k[j] = cubic((j + lo - center + 0.5) / filterscale);
      sum += k[j];
    }
    for (int j = 0; j < n; ++j) {
      const double v = sum != 0.0 ? k[j] / sum : k[j];
      const double fixed = v * (1 << kPrecisionBits);
      t.weights[static_cast<size_t>(i) * t.ksize + j] = static_cast<int32_t>(v < 0 ? fixed - 0.5 : fixed + 0.5);
    }
    t.first[i] = lo;
    t.count[i] = n;
  }
  return t;
}

Image resize_bicubic(const Image& in, int out_width, int out_height) {
  if (in.width <= 0 || in.height <= 0 || in.channels < 1 || in.channels > 4 ||
      in.pixels.size() != static_cast<size_t>(in.width) * in.height * in.channels)
    throw std::invalid_argument("resize_bicubic: invalid input image " + std::to_string(in.width) + "x" +
                                std::to_string(in.height) + "x" + std::to_string(in.channels));
  if (out_width <= 0 || out_height <= 0)
    throw std::invalid_argument("resize_bicubic: invalid output size " + std::to_string(out_width) + "x" +
                                std::to_string(out_height));
  const int C = in.channels;
  const bool need_h = out_width != in.width;
  const bool need_v = out_height != in.height;
  if (!need_h && !need_v) return in;

  const ResampleTaps vt = bicubic_taps(in.height, out_height);
  // Only the input rows the vertical pass reads go through the horizontal pass.
  const int row_first = need_v ? vt.first[0] : 0;
  const int row_last = need_v ? vt.first[out_height - 1] + vt.count[out_height - 1] : in.height;

  Image tmp;
  std::vector<int32_t> acc;
  const Image* src = &in;
  int src_row_offset = 0;
  if (need_h) {
    const ResampleTaps ht = bicubic_taps(in.width, out_width);
    tmp = Image(out_width, row_last - row_first, C);
    const int rows = row_last - row_first;
    switch (C) {
      case 1: horizontal_pass<1>(in, row_first, rows, ht, tmp, acc); break;
      case 2: horizontal_pass<2>(in, row_first, rows, ht, tmp, acc); break;
      case 3: horizontal_pass<3>(in, row_first, rows, ht, tmp, acc); break;
      default: horizontal_pass<4>(in, row_first, rows, ht, tmp, acc); break;
    }
    if (!need_v) return tmp;
    src = &tmp;
    src_row_offset = row_first;
  }
  Image out(out_width, out_height, C);
  acc.resize(static_cast<size_t>(out_width) * C);
  vertical_pass(src->pixels.data(), out_width * C, out.pixels.data(), src_row_offset, vt, acc.data());
  return out;
}

}  // namespace emrrg::data
