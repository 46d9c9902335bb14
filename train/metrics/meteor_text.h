// The Java string behaviour METEOR 1.5 relies on: StringTokenizer's default delimiters,
// String.hashCode (METEOR compares words and stems by hash), String.trim, UTF-16 lengths.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace emrrg::metrics {

// new StringTokenizer(s): tokens separated by runs of ' ', '\t', '\n', '\r', '\f'.
std::vector<std::string> java_tokenize(std::string_view text);
// String.hashCode() of the UTF-16 form of a UTF-8 string.
std::int32_t java_hash(std::string_view text);
// String.trim(): drops leading and trailing characters <= U+0020.
std::string_view java_trim(std::string_view text);
// String.length(): UTF-16 code units.
std::size_t utf16_length(std::string_view text);

}  // namespace emrrg::metrics
