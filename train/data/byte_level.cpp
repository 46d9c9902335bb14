#include "train/data/byte_level.h"

#include <array>

namespace emrrg::data {

namespace {

std::string utf8_of(char32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

bool stands_for_itself(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

// The 256 code points used are all below U+0100 + 68.
constexpr char32_t kAlphabetEnd = 0x100 + 68;

struct Alphabet {
  std::array<std::string, 256> spelling;
  std::array<int16_t, kAlphabetEnd> byte_of;
  Alphabet() {
    byte_of.fill(-1);
    char32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      const char32_t cp = stands_for_itself(b) ? static_cast<char32_t>(b) : next++;
      spelling[b] = utf8_of(cp);
      byte_of[cp] = static_cast<int16_t>(b);
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet table;
  return table;
}

}  // namespace

char32_t utf8_code_point(std::string_view s, size_t i, size_t len) {
  const auto u = [&](size_t k) { return static_cast<char32_t>(static_cast<uint8_t>(s[i + k])); };
  if (len == 1) return u(0);
  if (len == 2) return ((u(0) & 0x1F) << 6) | (u(1) & 0x3F);
  if (len == 3) return ((u(0) & 0x0F) << 12) | ((u(1) & 0x3F) << 6) | (u(2) & 0x3F);
  return ((u(0) & 0x07) << 18) | ((u(1) & 0x3F) << 12) | ((u(2) & 0x3F) << 6) | (u(3) & 0x3F);
}

namespace {

// How many bytes from s[i] on form a valid prefix of a UTF-8 sequence (at least 1), and the
// sequence's full length when complete (0 otherwise). Unicode's "maximal subpart" rule.
size_t valid_prefix(std::string_view s, size_t i, size_t& complete) {
  complete = 0;
  const auto b0 = static_cast<uint8_t>(s[i]);
  size_t len;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 < 0x80) {
    complete = 1;
    return 1;
  } else if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 1;
  }
  size_t k = 1;
  for (; k < len && i + k < s.size(); ++k) {
    const auto b = static_cast<uint8_t>(s[i + k]);
    const uint8_t l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) return k;
  }
  if (k == len) complete = len;
  return k;
}

}  // namespace

const std::string& byte_level_char(uint8_t b) { return alphabet().spelling[b]; }

std::string byte_level_encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += byte_level_char(static_cast<uint8_t>(c));
  return out;
}

int byte_level_byte(char32_t code_point) { return code_point < kAlphabetEnd ? alphabet().byte_of[code_point] : -1; }

std::string byte_level_decode_token(std::string_view token) {
  std::string bytes;
  for (size_t i = 0; i < token.size();) {
    const size_t len = utf8_sequence_length(token, i);
    const int b = len ? byte_level_byte(utf8_code_point(token, i, len)) : -1;
    if (b < 0) return std::string(token);
    bytes += static_cast<char>(b);
    i += len;
  }
  return bytes;
}

size_t utf8_sequence_length(std::string_view bytes, size_t i) {
  size_t complete;
  valid_prefix(bytes, i, complete);
  return complete;
}

std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    size_t complete;
    const size_t prefix = valid_prefix(bytes, i, complete);
    if (complete) {
      out.append(bytes.substr(i, complete));
      i += complete;
    } else {
      out += "\xEF\xBF\xBD";
      i += prefix;
    }
  }
  return out;
}

}  // namespace emrrg::data
