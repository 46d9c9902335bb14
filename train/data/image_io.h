// Image files: decoding PNG and JPEG (and the other formats stb_image reads: BMP, GIF, TGA,
// PNM, PSD) with stb_image, and writing PNG with stb_image_write. Errors are ImageError and
// name the file and the reason; the size is checked before any pixel is decoded.
#pragma once
#include <stdexcept>
#include <string>

#include "train/data/image.h"

namespace emrrg::data {

class ImageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Largest accepted side and pixel count (a 16-bit 100-megapixel scan is far beyond any CXR).
constexpr int kMaxImageSide = 1 << 15;
constexpr long long kMaxImagePixels = 1LL << 28;

// Decodes an encoded image held in memory, keeping its channel count (1..4). 16-bit PNGs are
// reduced to 8 bits (high byte). `name` is used in error messages.
Image decode_image(const std::string& bytes, const std::string& name);
// Reads and decodes a file.
Image read_image(const std::string& path);

// PNG encoding of an 8-bit image (1..4 channels); deterministic for the same pixels.
// Deflate: stb_image_write's compressor (smaller files). Store: zlib "stored" blocks, no
// compression: about ten times faster, files the size of the raw pixels (noisy radiographs
// barely compress anyway); any PNG reader reads them.
enum class PngCompression { Deflate, Store };
std::string encode_png(const Image& image, PngCompression compression = PngCompression::Deflate);
void write_png(const std::string& path, const Image& image, PngCompression compression = PngCompression::Deflate);

// Reads a whole file; throws ImageError naming the path when it cannot be opened or read.
std::string read_file_bytes(const std::string& path);

}  // namespace emrrg::data
