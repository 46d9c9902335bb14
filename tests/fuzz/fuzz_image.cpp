// PNG, JPEG (and stb's other formats) decoded, then resized and normalised as the data set does.
// Images over 2^22 pixels are left out: the decoder accepts up to 2^28 by design (the limit is
// tested in tests/data), and at that size the fuzzer measures memory, not decoding.
#include <stb_image.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_util.h"
#include "train/data/image_io.h"
#include "train/data/image_resize.h"
#include "train/data/image_transform.h"
#include "train/data/jpeg_huffman_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    // Before stbi_info, which the guard protects too.
    emrrg::data::check_jpeg_huffman_tables(bytes, "fuzz.img");
    int w = 0, h = 0, c = 0;
    if (size > 0 && stbi_info_from_memory(data, static_cast<int>(size), &w, &h, &c) &&
        static_cast<int64_t>(w) * h > (int64_t{1} << 22))
      return 0;
    const emrrg::data::Image image = emrrg::data::decode_image(bytes, "fuzz.img");
    // Shrinking and enlarging, each side on its own.
    (void)emrrg::data::resize_bicubic(image, 1 + image.width % 7, image.height + 3);
    static const emrrg::data::ImageTransform transform({.size = 9});
    std::vector<float> out(transform.output_size());
    transform.apply(image, out.data());
  } catch (const std::exception& e) {
    emrrg::fuzz::expect_names(e, "fuzz.img");
  }
  return 0;
}
