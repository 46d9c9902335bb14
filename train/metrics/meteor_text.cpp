#include "train/metrics/meteor_text.h"

#include "train/metrics/utf8.h"

namespace emrrg::metrics {

namespace {
bool is_tokenizer_delim(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }
}  // namespace

std::vector<std::string> java_tokenize(std::string_view text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_tokenizer_delim(text[i])) ++i;
    const std::size_t start = i;
    while (i < text.size() && !is_tokenizer_delim(text[i])) ++i;
    if (i > start) out.emplace_back(text.substr(start, i - start));
  }
  return out;
}

std::int32_t java_hash(std::string_view text) {
  std::uint32_t h = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    const char32_t cp = b < 0x80 ? (++i, b) : next_code_point(text, i);
    if (cp >= 0x10000) {
      const char32_t v = cp - 0x10000;
      h = 31 * h + static_cast<std::uint32_t>(0xD800 + (v >> 10));
      h = 31 * h + static_cast<std::uint32_t>(0xDC00 + (v & 0x3FF));
    } else {
      h = 31 * h + static_cast<std::uint32_t>(cp);
    }
  }
  return static_cast<std::int32_t>(h);
}

std::string_view java_trim(std::string_view text) {
  std::size_t b = 0, e = text.size();
  while (b < e && static_cast<unsigned char>(text[b]) <= 0x20) ++b;
  while (e > b && static_cast<unsigned char>(text[e - 1]) <= 0x20) --e;
  return text.substr(b, e - b);
}

std::size_t utf16_length(std::string_view text) {
  std::size_t n = 0, i = 0;
  while (i < text.size()) n += next_code_point(text, i) >= 0x10000 ? 2 : 1;
  return n;
}

}  // namespace emrrg::metrics
