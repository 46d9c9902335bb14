// A guard for two bugs of the stb_image that Debian 12 ships (2.27). A JPEG DHT segment whose 16
// code-length counts add up to more than 256 makes stbi__build_huffman write past its 257-entry
// size table (stb 2.28 refuses such tables); it happens while stbi_info reads the header. A scan
// that uses a Huffman table no DHT segment defined decodes with uninitialised tables, which index
// far outside stb's struct. decode_image() runs this check before stb sees the bytes.
#pragma once
#include <string>

namespace emrrg::data {

// Walks the JPEG's markers as stb_image does (segments by their lengths, entropy-coded data up to
// the next marker, DHT tables one after another until the segment's length is used up) and throws
// ImageError naming `name` for a Huffman table of more than 256 codes or for a scan that uses an
// undefined table. Bytes that are not a JPEG, and JPEGs that go wrong in other ways, are left to
// stb.
void check_jpeg_huffman_tables(const std::string& bytes, const std::string& name);

}  // namespace emrrg::data
