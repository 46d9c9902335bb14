#include "train/metrics/meteor_normalizer.h"

#include <vector>

#include "train/metrics/meteor_text.h"
#include "train/metrics/utf8.h"

namespace emrrg::metrics {

namespace {

using U32 = std::u32string;

// The Normalizer's "alpha" class: Latin letters, Latin-1 and Latin Extended-A letters,
// Cyrillic and phonetic ranges.
bool is_alpha(char32_t c) {
  return (c >= U'A' && c <= U'Z') || (c >= U'a' && c <= U'z') || c == 0x160 || c == 0x17D ||
         c == 0x161 || c == 0x17E || c == 0x178 || (c >= 0xC0 && c <= 0xD6) ||
         (c >= 0xD8 && c <= 0xF6) || (c >= 0xF8 && c <= 0x17E) || (c >= 0x400 && c <= 0x4FF) ||
         (c >= 0x500 && c <= 0x527) || (c >= 0xA640 && c <= 0xA66E) ||
         (c >= 0xA67E && c <= 0xA697) || (c >= 0x1D00 && c <= 0x1D7F);
}
bool is_digit(char32_t c) { return c >= U'0' && c <= U'9'; }  // Java's \p{Digit} is ASCII
bool is_alnum(char32_t c) { return is_digit(c) || is_alpha(c); }
bool is_java_space(char32_t c) { return c == U' ' || c == U'\t' || c == U'\n' || c == 0x0B || c == U'\f' || c == U'\r'; }

// r_white: the space character, U+2000..U+200A, U+202F, U+205F, U+3000 and U+00A0.
bool is_white(char32_t c) {
  return c == U' ' || (c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xA0;
}

// Replaces every non-overlapping match of the three-character pattern (A)(M)(B), scanning
// left to right as java.util.regex.Matcher.replaceAll does.
template <typename A, typename M, typename B, typename Emit>
U32 replace3(const U32& s, A a, M m, B b, Emit emit) {
  U32 out;
  out.reserve(s.size() + 8);
  std::size_t i = 0;
  while (i < s.size()) {
    if (i + 2 < s.size() && a(s[i]) && m(s[i + 1]) && b(s[i + 2])) {
      emit(out, s[i], s[i + 2]);
      i += 3;
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

U32 replace_literal(const U32& s, const U32& from, const U32& to) {
  U32 out;
  std::size_t start = 0;
  while (true) {
    const std::size_t pos = s.find(from, start);
    if (pos == U32::npos) break;
    out.append(s, start, pos - start);
    out.append(to);
    start = pos + from.size();
  }
  out.append(s, start, U32::npos);
  return out;
}

bool contains(const U32& s, const U32& what) { return s.find(what) != U32::npos; }

}  // namespace

std::string meteor_normalize(std::string_view line, const MeteorData& data) {
  U32 s(1, U' ');
  s += utf8_to_u32(line);
  s.push_back(U' ');

  // Separate all non-alphanumeric characters that are not special cases.
  {
    U32 out;
    out.reserve(s.size() * 2);
    for (char32_t c : s) {
      const bool keep = is_alnum(c) || is_java_space(c) || c == U'.' || c == U'\'' || c == U'`' ||
                        c == U',' || c == U'-' || c == 0x2018 || c == 0x2019;
      if (keep) {
        out.push_back(c);
      } else {
        out.push_back(U' ');
        out.push_back(c);
        out.push_back(U' ');
      }
    }
    s = std::move(out);
  }

  // Escape runs of dots: \.([\.]+) -> " DOTMULTI$1".
  {
    U32 out;
    std::size_t i = 0;
    while (i < s.size()) {
      if (s[i] == U'.' && i + 1 < s.size() && s[i + 1] == U'.') {
        std::size_t j = i + 1;
        while (j < s.size() && s[j] == U'.') ++j;
        out += U" DOTMULTI";
        out.append(s, i + 1, j - i - 1);
        i = j;
      } else {
        out.push_back(s[i++]);
      }
    }
    s = std::move(out);
  }
  const U32 dotmulti = U"DOTMULTI", dotmulti_dot = U"DOTMULTI.", dotdotmulti = U"DOTDOTMULTI";
  while (contains(s, dotmulti_dot)) {
    // DOTMULTI\.([^\.]) -> "DOTDOTMULTI $1"
    U32 out;
    std::size_t i = 0;
    while (i < s.size()) {
      if (s.compare(i, 9, dotmulti_dot) == 0 && i + 9 < s.size() && s[i + 9] != U'.') {
        out += U"DOTDOTMULTI ";
        out.push_back(s[i + 9]);
        i += 10;
      } else {
        out.push_back(s[i++]);
      }
    }
    s = replace_literal(out, dotmulti_dot, dotdotmulti);
  }

  // Separate commas except within numbers.
  auto not_digit = [](char32_t c) { return !is_digit(c); };
  auto comma = [](char32_t c) { return c == U','; };
  auto spaced_comma = [](U32& o, char32_t a, char32_t b) {
    o.push_back(a);
    o += U" , ";
    o.push_back(b);
  };
  s = replace3(s, not_digit, comma, not_digit, spaced_comma);
  s = replace3(s, is_digit, comma, not_digit, spaced_comma);
  s = replace3(s, not_digit, comma, is_digit, spaced_comma);

  // Normalise quotes: ` ‘ ’ -> ', and “ ” '' -> " \" ".
  for (char32_t& c : s)
    if (c == U'`' || c == 0x2018 || c == 0x2019) c = U'\'';
  {
    U32 out;
    std::size_t i = 0;
    while (i < s.size()) {
      if (s[i] == 0x201C || s[i] == 0x201D) {
        out += U" \" ";
        ++i;
      } else if (s[i] == U'\'' && i + 1 < s.size() && s[i + 1] == U'\'') {
        out += U" \" ";
        i += 2;
      } else {
        out.push_back(s[i++]);
      }
    }
    s = std::move(out);
  }

  // Normalise dashes, then split dashes between words (alnum or dot before, alnum after).
  s = replace_literal(s, U"\u2013", U"-");
  s = replace_literal(s, U"--", U"-");
  s = replace3(
      s, [](char32_t c) { return is_alnum(c) || c == U'.'; }, [](char32_t c) { return c == U'-'; },
      is_alnum, [](U32& o, char32_t a, char32_t b) {
        o.push_back(a);
        o.push_back(U' ');
        o.push_back(b);
      });

  // English contractions split to the right.
  auto apos = [](char32_t c) { return c == U'\''; };
  auto not_alpha = [](char32_t c) { return !is_alpha(c); };
  auto spaced_apos = [](U32& o, char32_t a, char32_t b) {
    o.push_back(a);
    o += U" ' ";
    o.push_back(b);
  };
  auto attached_apos = [](U32& o, char32_t a, char32_t b) {
    o.push_back(a);
    o += U" '";
    o.push_back(b);
  };
  s = replace3(s, not_alpha, apos, not_alpha, spaced_apos);
  s = replace3(s, [](char32_t c) { return !is_alpha(c) && !is_digit(c); }, apos, is_alpha, spaced_apos);
  s = replace3(s, is_alpha, apos, not_alpha, spaced_apos);
  s = replace3(s, is_alpha, apos, is_alpha, attached_apos);
  s = replace3(s, is_digit, apos, [](char32_t c) { return c == U's'; }, attached_apos);

  // Split into words and break final dots unless the word is a non-breaking prefix.
  const std::vector<std::string> words = java_tokenize(u32_to_utf8(s));
  std::string rebuilt;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (utf16_length(w) > 1 && w.back() == '.') {
      const std::string pre = w.substr(0, w.size() - 1);
      const auto it = data.nonbreaking_prefixes.find(pre);
      bool pre_has_alpha = false;
      for (char32_t c : utf8_to_u32(pre)) pre_has_alpha = pre_has_alpha || is_alpha(c);
      const bool next_lower = i + 1 < words.size() && words[i + 1][0] >= 'a' && words[i + 1][0] <= 'z';
      const bool next_digit = i + 1 < words.size() && words[i + 1][0] >= '0' && words[i + 1][0] <= '9';
      if (pre.find('.') != std::string::npos && pre_has_alpha) {
        for (char c : w)
          if (c != '.') rebuilt.push_back(c);  // "U.S." -> "US"
      } else if ((it != data.nonbreaking_prefixes.end() && it->second == NonbreakingType::kAny) || next_lower) {
        rebuilt += w;
      } else if (it != data.nonbreaking_prefixes.end() && it->second == NonbreakingType::kNumericOnly &&
                 next_digit) {
        rebuilt += w;
      } else {
        rebuilt += pre;
        rebuilt += " .";
      }
    } else {
      rebuilt += w;
    }
    rebuilt += ' ';
  }
  s = utf8_to_u32(rebuilt);

  // Unescape runs of dots.
  while (contains(s, dotdotmulti)) s = replace_literal(s, dotdotmulti, dotmulti_dot);
  s = replace_literal(s, dotmulti, U".");

  // Normalise whitespace, then String.trim().
  {
    U32 out;
    std::size_t i = 0;
    while (i < s.size()) {
      if (is_white(s[i])) {
        while (i < s.size() && is_white(s[i])) ++i;
        out.push_back(U' ');
      } else {
        out.push_back(s[i++]);
      }
    }
    s = std::move(out);
  }
  return std::string(java_trim(u32_to_utf8(s)));
}

}  // namespace emrrg::metrics
