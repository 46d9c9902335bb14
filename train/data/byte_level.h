// GPT-2's byte-level alphabet (bytes_to_unicode): every byte gets a printable code point, so a
// byte-level BPE vocabulary is plain text. Printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ')
// stand for themselves; the other 68 bytes (controls, space, DEL, NBSP, soft hyphen) map, in
// byte order, to U+0100 onwards (space -> 'Ġ' U+0120, '\n' -> 'Ċ' U+010A).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace emrrg::data {

// The UTF-8 spelling of byte b's code point.
const std::string& byte_level_char(uint8_t b);
// `bytes` spelled in the byte-level alphabet.
std::string byte_level_encode(std::string_view bytes);
// The byte a byte-level code point stands for, or -1 when it is not in the alphabet.
int byte_level_byte(char32_t code_point);
// Hugging Face's ByteLevel decoder on one token: the bytes its characters stand for, or the
// token's own UTF-8 when a character is outside the alphabet (added tokens such as "a b").
std::string byte_level_decode_token(std::string_view token);
// Bytes to valid UTF-8 as Rust's String::from_utf8_lossy does it: each maximal invalid
// subsequence becomes U+FFFD.
std::string utf8_lossy(std::string_view bytes);
// The length of the UTF-8 sequence at bytes[i] when it is valid there, else 0.
size_t utf8_sequence_length(std::string_view bytes, size_t i);
// The code point of the valid `len`-byte UTF-8 sequence at bytes[i].
char32_t utf8_code_point(std::string_view bytes, size_t i, size_t len);

}  // namespace emrrg::data
