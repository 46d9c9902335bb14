// A 5 x 7 bitmap font for the labels of figures (emrrg inspect): digits, capital letters (lower
// case is drawn as capitals) and the punctuation numbers and layer names need. One pixel of
// spacing between glyphs; an unknown character draws as a hollow box.
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "train/data/image.h"

namespace emrrg::train {

constexpr int kGlyphWidth = 5, kGlyphHeight = 7;

// Pixel (x, y) of c's glyph is set.
bool glyph_pixel(char c, int x, int y);
// Width in pixels of `text` drawn at `scale` (each glyph pixel a scale x scale square).
int text_width(const std::string& text, int scale);
// Draws `text` into an RGB image with its top-left corner at (x, y); pixels outside are clipped.
void draw_text(data::Image& image, int x, int y, const std::string& text, std::array<uint8_t, 3> colour, int scale);

}  // namespace emrrg::train
