#include "train/data/image_io.h"

#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

#include "train/data/jpeg_huffman_check.h"

namespace emrrg::data {

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw ImageError("cannot open image '" + path + "': " + std::strerror(errno));
  const std::streamoff size = in.tellg();
  if (size < 0) throw ImageError("cannot read image '" + path + "'");
  std::string bytes(static_cast<size_t>(size), '\0');
  in.seekg(0);
  if (size > 0 && !in.read(bytes.data(), size)) throw ImageError("cannot read image '" + path + "'");
  return bytes;
}

Image decode_image(const std::string& bytes, const std::string& name) {
  if (bytes.empty()) throw ImageError("image '" + name + "' is empty (0 bytes)");
  if (bytes.size() > static_cast<size_t>(INT32_MAX))
    throw ImageError("image '" + name + "' is too large (" + std::to_string(bytes.size()) + " bytes)");
  check_jpeg_huffman_tables(bytes, name);
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = static_cast<int>(bytes.size());
  int w = 0, h = 0, c = 0;
  if (!stbi_info_from_memory(data, len, &w, &h, &c))
    throw ImageError("'" + name + "' is not a readable image (" + stbi_failure_reason() + ")");
  if (w <= 0 || h <= 0 || w > kMaxImageSide || h > kMaxImageSide ||
      static_cast<long long>(w) * h > kMaxImagePixels)
    throw ImageError("image '" + name + "' has implausible size " + std::to_string(w) + "x" + std::to_string(h));
  if (c < 1 || c > 4) throw ImageError("image '" + name + "' has " + std::to_string(c) + " channels");
  int dw = 0, dh = 0, dc = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load_from_memory(data, len, &dw, &dh, &dc, 0), stbi_image_free);
  if (!pixels) throw ImageError("cannot decode image '" + name + "' (" + stbi_failure_reason() + ")");
  if (dw != w || dh != h || dc != c)
    throw ImageError("image '" + name + "' decoded to an unexpected size " + std::to_string(dw) + "x" + std::to_string(dh));
  Image out(w, h, c);
  std::memcpy(out.pixels.data(), pixels.get(), out.pixels.size());
  return out;
}

Image read_image(const std::string& path) { return decode_image(read_file_bytes(path), path); }

namespace {
void append_bytes(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
}
}  // namespace

namespace {

uint32_t crc32_update(uint32_t crc, const unsigned char* p, size_t n) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

void put_u32(std::string& s, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
  s.append(b, 4);
}

void put_chunk(std::string& out, const char* type, const std::string& data) {
  put_u32(out, static_cast<uint32_t>(data.size()));
  const size_t start = out.size();
  out.append(type, 4);
  out += data;
  put_u32(out, crc32_update(0, reinterpret_cast<const unsigned char*>(out.data() + start), out.size() - start));
}

// PNG with filter 0 rows in zlib stored blocks.
std::string encode_png_stored(const Image& image) {
  const size_t row = static_cast<size_t>(image.width) * image.channels;
  std::string raw;
  raw.reserve((row + 1) * image.height);
  for (int y = 0; y < image.height; ++y) {
    raw.push_back('\0');
    raw.append(reinterpret_cast<const char*>(image.row(y)), row);
  }
  std::string z = "\x78\x01";
  for (size_t off = 0; off < raw.size() || off == 0;) {
    const size_t n = std::min<size_t>(65535, raw.size() - off);
    const bool last = off + n == raw.size();
    z.push_back(last ? 1 : 0);
    z.push_back(static_cast<char>(n & 0xFF));
    z.push_back(static_cast<char>(n >> 8));
    z.push_back(static_cast<char>(~n & 0xFF));
    z.push_back(static_cast<char>((~n >> 8) & 0xFF));
    z.append(raw, off, n);
    off += n;
    if (last) break;
  }
  uint32_t a = 1, b = 0;
  for (size_t i = 0; i < raw.size();) {
    const size_t end = std::min(raw.size(), i + 5552);  // no uint32 overflow before the modulo
    for (; i < end; ++i) {
      a += static_cast<unsigned char>(raw[i]);
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  put_u32(z, (b << 16) | a);
  static const char color_type[5] = {0, 0, 4, 2, 6};  // grey, grey+alpha, RGB, RGBA
  std::string ihdr;
  put_u32(ihdr, static_cast<uint32_t>(image.width));
  put_u32(ihdr, static_cast<uint32_t>(image.height));
  ihdr += std::string{8, color_type[image.channels], 0, 0, 0};
  std::string out = "\x89PNG\r\n\x1a\n";
  put_chunk(out, "IHDR", ihdr);
  put_chunk(out, "IDAT", z);
  put_chunk(out, "IEND", "");
  return out;
}

}  // namespace

std::string encode_png(const Image& image, PngCompression compression) {
  if (image.width <= 0 || image.height <= 0 || image.channels < 1 || image.channels > 4 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * image.channels)
    throw ImageError("encode_png: invalid image " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                     "x" + std::to_string(image.channels));
  if (compression == PngCompression::Store) return encode_png_stored(image);
  std::string out;
  if (!stbi_write_png_to_func(append_bytes, &out, image.width, image.height, image.channels, image.pixels.data(),
                              image.width * image.channels))
    throw ImageError("PNG encoding failed");
  return out;
}

void write_png(const std::string& path, const Image& image, PngCompression compression) {
  const std::string bytes = encode_png(image, compression);
  std::ofstream out(path, std::ios::binary);
  if (!out) throw ImageError("cannot create '" + path + "': " + std::strerror(errno));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw ImageError("cannot write '" + path + "'");
}

}  // namespace emrrg::data
