#include "train/data/jpeg_huffman_check.h"

#include <cstddef>
#include <cstdint>

#include "train/data/image_io.h"

namespace emrrg::data {

void check_jpeg_huffman_tables(const std::string& bytes, const std::string& name) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  // stb reads zeros past the end of the data.
  auto at = [&](size_t i) -> unsigned { return i < n ? p[i] : 0u; };
  // SOI, after any number of FF fill bytes.
  size_t i = 0;
  while (i + 1 < n && p[i] == 0xFF && p[i + 1] == 0xFF) ++i;
  if (i + 1 >= n || p[i] != 0xFF || p[i + 1] != 0xD8) return;
  i += 2;
  // Before the frame header stb skips bytes until the next marker; after it, only inside a scan
  // (entropy-coded data, where FF 00 is a data byte and FF D0..D7 are restart markers).
  bool frame_seen = false, in_scan = false;
  while (i + 1 < n) {
    if (p[i] != 0xFF) {
      if (!in_scan && frame_seen) return;  // stb wants a marker here and fails
      ++i;
      continue;
    }
    const unsigned marker = p[i + 1];
    if (marker == 0xFF) {  // fill byte
      ++i;
      continue;
    }
    if (marker == 0x00 || (marker >= 0xD0 && marker <= 0xD7)) {
      if (!in_scan) return;
      i += 2;
      continue;
    }
    if (marker == 0xD9) return;  // EOI
    const size_t length = (size_t{at(i + 2)} << 8) | at(i + 3);
    if (marker == 0xC4) {
      // (class/id, 16 counts, the counts' sum of symbols) until the segment's length is used.
      long remaining = static_cast<long>(length) - 2;
      size_t t = i + 4;
      while (remaining > 0) {
        unsigned codes = 0;
        for (size_t k = 1; k <= 16; ++k) codes += at(t + k);
        if (codes > 256)
          throw ImageError("JPEG '" + name + "' has a Huffman table of " + std::to_string(codes) +
                           " codes at byte " + std::to_string(t) + " (at most 256)");
        remaining -= 17 + static_cast<long>(codes);
        t += 17 + codes;
      }
      if (remaining != 0) return;  // stb refuses the segment
      i = t;
    } else {
      i += 2 + length;
    }
    frame_seen = frame_seen || marker == 0xC0 || marker == 0xC1 || marker == 0xC2;  // stb's SOF markers
    in_scan = marker == 0xDA;
  }
}

}  // namespace emrrg::data
