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
  bool frame_seen = false, in_scan = false, progressive = false;
  // defined[0][id]: DC table id, defined[1][id]: AC table id. stb does not clear its tables, so a
  // scan that uses one no DHT defined decodes with whatever the heap held: symbol indices far
  // outside the table (ASan: reads of freed memory in stbi__jpeg_huff_decode).
  bool defined[2][4] = {};
  // The scan header at byte `sos`: (count, count x (component, DC<<4 | AC), Ss, Se, Ah<<4 | Al).
  // A baseline scan decodes with both tables of each component; a progressive one with the DC
  // table only in the first DC scan (Ss = 0, Ah = 0) and with the AC table only when Ss > 0.
  auto throw_undefined_table = [&](size_t sos, const char* table_class, unsigned id) {
    throw ImageError("JPEG '" + name + "' has a scan at byte " + std::to_string(sos) + " that uses " + table_class +
                     " Huffman table " + std::to_string(id) + ", which no DHT segment before it defines");
  };
  auto check_scan_tables = [&](size_t sos, bool progressive_frame) {
    const unsigned components = at(sos + 4);
    const unsigned spectral_start = at(sos + 5 + 2 * components);
    const unsigned approximation_high = at(sos + 7 + 2 * components) >> 4;
    const bool uses_dc = !progressive_frame || (spectral_start == 0 && approximation_high == 0);
    const bool uses_ac = !progressive_frame || spectral_start > 0;
    for (unsigned c = 0; c < components; ++c) {
      const unsigned dc = at(sos + 6 + 2 * c) >> 4, ac = at(sos + 6 + 2 * c) & 15;
      if (dc > 3 || ac > 3) return;  // stb refuses the scan
      if (uses_dc && !defined[0][dc]) throw_undefined_table(sos, "DC", dc);
      if (uses_ac && !defined[1][ac]) throw_undefined_table(sos, "AC", ac);
    }
  };
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
        const unsigned table_class = at(t) >> 4, table_id = at(t) & 15;
        if (table_class > 1 || table_id > 3) return;  // stb refuses the table
        defined[table_class][table_id] = true;
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
      if (marker == 0xDA) {
        if (!frame_seen) return;  // stb wants the frame header first
        check_scan_tables(i, progressive);
      }
      i += 2 + length;
    }
    if (!frame_seen && (marker == 0xC0 || marker == 0xC1 || marker == 0xC2)) {  // stb's SOF markers
      frame_seen = true;
      progressive = marker == 0xC2;
    }
    in_scan = marker == 0xDA;
  }
}

}  // namespace emrrg::data
