#include "train/data/wordpiece_tokenizer.h"

#include <unicode/uchar.h>
#include <unicode/ustring.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "train/data/unicode_nfc.h"
#include "train/metrics/utf8.h"

namespace emrrg::data {

namespace {

// transformers' BasicTokenizer keeps words of at most this many code points.
constexpr std::size_t kMaxWordChars = 100;

bool is_control(char32_t c) {
  if (c == U'\t' || c == U'\n' || c == U'\r') return false;
  switch (u_charType(static_cast<UChar32>(c))) {
    case U_CONTROL_CHAR: case U_FORMAT_CHAR: case U_UNASSIGNED: case U_PRIVATE_USE_CHAR: case U_SURROGATE:
      return true;
    default:
      return false;
  }
}

bool is_bert_whitespace(char32_t c) {
  return c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' || u_charType(static_cast<UChar32>(c)) == U_SPACE_SEPARATOR;
}

// What Python's str.split() splits on (str.isspace).
bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  switch (u_charType(static_cast<UChar32>(c))) {
    case U_DASH_PUNCTUATION: case U_START_PUNCTUATION: case U_END_PUNCTUATION: case U_CONNECTOR_PUNCTUATION:
    case U_OTHER_PUNCTUATION: case U_INITIAL_PUNCTUATION: case U_FINAL_PUNCTUATION:
      return true;
    default:
      return false;
  }
}

// The CJK Unified Ideographs blocks BertTokenizer splits around (not Hangul, kana or CJK punctuation).
bool is_cjk_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

void check_icu(UErrorCode status, const char* what) {
  if (U_FAILURE(status)) throw std::runtime_error(std::string("WordPiece lower-casing: ") + what + ": " + u_errorName(status));
}

// Python's str.lower(): ICU's full case mapping in the root locale (İ becomes i + U+0307, a final
// sigma becomes ς), which can change the length.
std::u32string lower_full(std::u32string_view word) {
  std::u16string utf16;
  for (const char32_t c : word) {
    if (c < 0x10000) {
      utf16.push_back(static_cast<char16_t>(c));
    } else {
      utf16.push_back(static_cast<char16_t>(0xD800 + ((c - 0x10000) >> 10)));
      utf16.push_back(static_cast<char16_t>(0xDC00 + ((c - 0x10000) & 0x3FF)));
    }
  }
  UErrorCode status = U_ZERO_ERROR;
  const auto src = reinterpret_cast<const UChar*>(utf16.data());
  const auto src_len = static_cast<int32_t>(utf16.size());
  const int32_t len = u_strToLower(nullptr, 0, src, src_len, "", &status);
  if (status == U_BUFFER_OVERFLOW_ERROR) status = U_ZERO_ERROR;
  check_icu(status, "measuring");
  std::u16string lowered(static_cast<std::size_t>(len) + 1, u'\0');
  u_strToLower(reinterpret_cast<UChar*>(lowered.data()), len + 1, src, src_len, "", &status);
  check_icu(status, "mapping");
  lowered.resize(static_cast<std::size_t>(len));
  std::u32string out;
  for (std::size_t i = 0; i < lowered.size(); ++i) {
    const char16_t u = lowered[i];
    if (u >= 0xD800 && u < 0xDC00 && i + 1 < lowered.size()) {
      out.push_back(0x10000 + ((static_cast<char32_t>(u) - 0xD800) << 10) + (lowered[++i] - 0xDC00));
    } else {
      out.push_back(u);
    }
  }
  return out;
}

// Lower-cased, decomposed (NFD) and without non-spacing marks: BertTokenizer's uncased word.
std::u32string uncased(std::u32string_view word) {
  if (std::all_of(word.begin(), word.end(), [](char32_t c) { return c < 0x80; })) {
    std::u32string out(word);
    for (char32_t& c : out)
      if (c >= U'A' && c <= U'Z') c += U'a' - U'A';
    return out;
  }
  const std::u32string decomposed = metrics::utf8_to_u32(nfd_normalize(metrics::u32_to_utf8(lower_full(word))));
  std::u32string out;
  for (const char32_t c : decomposed)
    if (u_charType(static_cast<UChar32>(c)) != U_NON_SPACING_MARK) out.push_back(c);
  return out;
}

}  // namespace

WordPieceTokenizer WordPieceTokenizer::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open WordPiece vocabulary '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw std::runtime_error("cannot read WordPiece vocabulary '" + path + "'");
  return WordPieceTokenizer(text.str(), path);
}

WordPieceTokenizer::WordPieceTokenizer(std::string_view vocab_text, const std::string& name) : name_(name) {
  if (vocab_text.empty()) throw std::runtime_error("WordPiece vocabulary '" + name + "' is empty");
  // Python's universal newlines: \r\n and a lone \r end a line too.
  std::size_t start = 0;
  while (start < vocab_text.size()) {
    std::size_t end = vocab_text.find_first_of("\r\n", start);
    if (end == std::string_view::npos) end = vocab_text.size();
    const std::string_view line = vocab_text.substr(start, end - start);
    if (const auto bad = metrics::find_invalid_utf8(line))
      throw std::runtime_error("WordPiece vocabulary '" + name + "' line " + std::to_string(tokens_.size() + 1) +
                               ": invalid UTF-8 at byte " + std::to_string(*bad));
    ids_[std::string(line)] = static_cast<int>(tokens_.size());
    tokens_.emplace_back(line);
    start = end + 1;
    if (end < vocab_text.size() && vocab_text[end] == '\r' && start < vocab_text.size() && vocab_text[start] == '\n')
      ++start;
  }
  const auto required = [&](const char* token) {
    const int id = token_id(token);
    if (id < 0) throw std::runtime_error("WordPiece vocabulary '" + name + "' has no " + token + " token");
    return id;
  };
  pad_id_ = required("[PAD]");
  unk_id_ = required("[UNK]");
  cls_id_ = required("[CLS]");
  sep_id_ = required("[SEP]");
  for (const char* special : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"})
    if (const int id = token_id(special); id >= 0) specials_.emplace_back(special, id);
  std::stable_sort(specials_.begin(), specials_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

int WordPieceTokenizer::token_id(std::string_view token) const {
  const auto it = ids_.find(token);
  return it == ids_.end() ? -1 : it->second;
}

const std::string& WordPieceTokenizer::token(int id) const {
  if (id < 0 || id >= vocab_size())
    throw std::out_of_range("WordPiece id " + std::to_string(id) + " is outside [0, " + std::to_string(vocab_size()) +
                            ") of '" + name_ + "'");
  return tokens_[static_cast<std::size_t>(id)];
}

std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text) const {
  std::vector<int> ids;
  append_ids(text, ids);
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (const int id : ids) out.push_back(tokens_[static_cast<std::size_t>(id)]);
  return out;
}

std::vector<int> WordPieceTokenizer::encode(std::string_view text, std::size_t max_length) const {
  if (max_length < 2) throw std::invalid_argument("WordPiece encode: max_length " + std::to_string(max_length) + " < 2");
  std::vector<int> ids{cls_id_};
  append_ids(text, ids);
  if (ids.size() + 1 > max_length) ids.resize(max_length - 1);
  ids.push_back(sep_id_);
  return ids;
}

void WordPieceTokenizer::append_ids(std::string_view text, std::vector<int>& ids) const {
  if (const auto bad = metrics::find_invalid_utf8(text))
    throw std::invalid_argument("WordPiece: text is not valid UTF-8 at byte " + std::to_string(*bad));
  std::size_t plain_start = 0;
  const auto flush = [&](std::size_t end) {
    if (end > plain_start) append_basic_tokens(metrics::utf8_to_u32(text.substr(plain_start, end - plain_start)), ids);
  };
  for (std::size_t i = 0; i < text.size();) {
    const auto special = std::find_if(specials_.begin(), specials_.end(),
                                      [&](const auto& s) { return text.substr(i).starts_with(s.first); });
    if (special == specials_.end()) {
      ++i;
      continue;
    }
    flush(i);
    ids.push_back(special->second);
    i += special->first.size();
    plain_start = i;
  }
  flush(text.size());
}

void WordPieceTokenizer::append_basic_tokens(std::u32string_view text, std::vector<int>& ids) const {
  std::u32string cleaned;
  cleaned.reserve(text.size());
  for (const char32_t c : text) {
    if (c == 0 || c == 0xFFFD || is_control(c)) continue;
    if (is_bert_whitespace(c)) {
      cleaned.push_back(U' ');
    } else if (is_cjk_ideograph(c)) {
      cleaned += U' ';
      cleaned += c;
      cleaned += U' ';
    } else {
      cleaned.push_back(c);
    }
  }
  std::size_t i = 0;
  while (i < cleaned.size()) {
    if (is_python_space(cleaned[i])) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < cleaned.size() && !is_python_space(cleaned[end])) ++end;
    const std::u32string word = uncased(std::u32string_view(cleaned).substr(i, end - i));
    i = end;
    // Punctuation splits the word; each punctuation character is a word of its own.
    std::size_t piece_start = 0;
    for (std::size_t k = 0; k <= word.size(); ++k) {
      if (k < word.size() && !is_punctuation(word[k])) continue;
      if (k > piece_start) append_wordpieces(std::u32string_view(word).substr(piece_start, k - piece_start), ids);
      if (k < word.size()) append_wordpieces(std::u32string_view(word).substr(k, 1), ids);
      piece_start = k + 1;
    }
  }
}

void WordPieceTokenizer::append_wordpieces(std::u32string_view word, std::vector<int>& ids) const {
  if (word.size() > kMaxWordChars) {
    ids.push_back(unk_id_);
    return;
  }
  // Byte offsets of each code point in the word's UTF-8, so candidate pieces are substrings.
  std::string utf8;
  std::vector<std::size_t> offsets;
  for (const char32_t c : word) {
    offsets.push_back(utf8.size());
    metrics::append_utf8(utf8, c);
  }
  offsets.push_back(utf8.size());
  const std::size_t first_new = ids.size();
  std::string candidate;
  for (std::size_t start = 0; start < word.size();) {
    int found = -1;
    std::size_t end = word.size();
    for (; end > start; --end) {
      candidate.assign(start > 0 ? "##" : "");
      candidate.append(utf8, offsets[start], offsets[end] - offsets[start]);
      found = token_id(candidate);
      if (found >= 0) break;
    }
    if (found < 0) {
      ids.resize(first_new);
      ids.push_back(unk_id_);
      return;
    }
    ids.push_back(found);
    start = end;
  }
}

}  // namespace emrrg::data
