#include "train/data/image_io.h"

#include <stb_image.h>
#include <stb_image_write.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

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

std::string encode_png(const Image& image) {
  if (image.width <= 0 || image.height <= 0 || image.channels < 1 || image.channels > 4 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * image.channels)
    throw ImageError("encode_png: invalid image " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                     "x" + std::to_string(image.channels));
  std::string out;
  if (!stbi_write_png_to_func(append_bytes, &out, image.width, image.height, image.channels, image.pixels.data(),
                              image.width * image.channels))
    throw ImageError("PNG encoding failed");
  return out;
}

void write_png(const std::string& path, const Image& image) {
  const std::string bytes = encode_png(image);
  std::ofstream out(path, std::ios::binary);
  if (!out) throw ImageError("cannot create '" + path + "': " + std::strerror(errno));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw ImageError("cannot write '" + path + "'");
}

}  // namespace emrrg::data
