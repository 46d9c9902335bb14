#include "train/data/unicode_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <memory>
#include <stdexcept>

namespace emrrg::data {

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof buffer);
  return reinterpret_cast<const char*>(buffer);
}

struct MatchDataFree {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};

}  // namespace

UnicodeRegex::UnicodeRegex(const std::string& pattern, bool literal, const std::string& context)
    : code_(nullptr), context_(context) {
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  const uint32_t options = PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0);
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &error,
                                   &error_offset, nullptr);
  if (!code)
    throw std::runtime_error(context + ": the pattern does not compile with PCRE2 (" + pcre2_message(error) +
                             " at offset " + std::to_string(error_offset) + ")");
  // JIT is only a speed-up; the interpreter gives the same matches when it is unavailable.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  code_ = code;
}

UnicodeRegex::~UnicodeRegex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

void UnicodeRegex::split_isolated(std::string_view text, std::vector<std::string_view>& pieces) const {
  auto* code = static_cast<pcre2_code*>(code_);
  std::unique_ptr<pcre2_match_data, MatchDataFree> match(pcre2_match_data_create_from_pattern(code, nullptr));
  if (!match) throw std::runtime_error(context_ + ": out of memory for PCRE2 match data");
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t done = 0;  // text[..done) has been emitted
  size_t from = 0;
  while (from <= text.size()) {
    // The caller has validated the UTF-8 once for the whole text.
    const int rc = pcre2_match(code, subject, text.size(), from, PCRE2_NO_UTF_CHECK, match.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) throw std::runtime_error(context_ + ": PCRE2 matching failed (" + pcre2_message(rc) + ")");
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.get());
    const size_t start = ovector[0], end = ovector[1];
    if (end == start) {
      // An empty match splits nothing; step over one code point.
      if (start >= text.size()) break;
      from = start + 1;
      while (from < text.size() && (static_cast<uint8_t>(text[from]) & 0xC0) == 0x80) ++from;
      continue;
    }
    if (start > done) pieces.push_back(text.substr(done, start - done));
    pieces.push_back(text.substr(start, end - start));
    done = from = end;
  }
  if (done < text.size()) pieces.push_back(text.substr(done));
}

}  // namespace emrrg::data
