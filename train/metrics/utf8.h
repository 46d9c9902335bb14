// UTF-8 decoding, encoding and validation, used by every text-handling metric.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace emrrg::metrics {

// Byte offset of the first invalid UTF-8 sequence in `text`, or nullopt when it is valid.
// Overlong forms, surrogates and code points above U+10FFFF are invalid.
std::optional<std::size_t> find_invalid_utf8(std::string_view text);

// Decodes valid UTF-8 (call find_invalid_utf8 first; invalid bytes decode as U+FFFD).
std::u32string utf8_to_u32(std::string_view text);
std::string u32_to_utf8(std::u32string_view text);
void append_utf8(std::string& out, char32_t cp);

// Decodes one code point starting at text[i] and advances i.
char32_t next_code_point(std::string_view text, std::size_t& i);

}  // namespace emrrg::metrics
