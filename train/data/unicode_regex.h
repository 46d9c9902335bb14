// A PCRE2 regular expression over UTF-8 with Unicode properties (PCRE2_UTF | PCRE2_UCP, so
// \p{L}, \s, \w and case folding follow Unicode), used by the BPE pre-tokenizer.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace emrrg::data {

class UnicodeRegex {
 public:
  // `literal`: the pattern is a plain string. Throws std::runtime_error starting with `context`
  // and giving PCRE2's message and the offset in the pattern when it does not compile.
  UnicodeRegex(const std::string& pattern, bool literal, const std::string& context);
  ~UnicodeRegex();
  UnicodeRegex(const UnicodeRegex&) = delete;
  UnicodeRegex& operator=(const UnicodeRegex&) = delete;

  // Hugging Face's Split with behaviour "isolated": the matches and the text between them, in
  // order, empty pieces left out. `text` must be valid UTF-8. Thread-safe.
  void split_isolated(std::string_view text, std::vector<std::string_view>& pieces) const;

 private:
  void* code_;  // pcre2_code_8
  std::string context_;
};

}  // namespace emrrg::data
