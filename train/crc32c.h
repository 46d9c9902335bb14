// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum of TensorBoard's record
// framing and of the files a checkpoint lists.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace emrrg::train {

// Continues a CRC over more bytes: crc32c(b, crc32c(a)) == crc32c(a + b).
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);
inline uint32_t crc32c(std::string_view s, uint32_t crc = 0) { return crc32c(s.data(), s.size(), crc); }
// TFRecord's masking, so a CRC stored next to the data it covers does not checksum to a constant.
inline uint32_t masked_crc32c(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

}  // namespace emrrg::train
