#include "train/metrics/report_cleaning.h"

#include <vector>

#include "train/metrics/text.h"

namespace emrrg::metrics {

namespace {

std::string replace_n(std::string s, std::string_view from, std::string_view to, int times) {
  for (int i = 0; i < times; ++i) s = replace_all(s, from, to);
  return s;
}

// The enumeration rules shared by both R2Gen cleaners.
std::string remove_enumeration(std::string s) {
  s = replace_all(s, "1. ", "");
  for (const char* n : {". 2. ", ". 3. ", ". 4. ", ". 5. "}) s = replace_all(s, n, ". ");
  for (const char* n : {" 2. ", " 3. ", " 4. ", " 5. "}) s = replace_all(s, n, ". ");
  return s;
}

bool deleted_r2gen(unsigned char c) {
  switch (c) {
    case '.': case ',': case '?': case ';': case '*': case '!': case '%': case '^':
    case '&': case '_': case '+': case '(': case ')': case ']': case '{': case '}':
      return true;
    default:
      return c >= ':' && c <= '[';  // the range ':'..'[' of `:-\[`
  }
}

bool deleted_r2gengpt(unsigned char c) {
  switch (c) {
    case '.': case ',': case '?': case ';': case '*': case '!': case '%': case '^':
    case '&': case '_': case '+': case '(': case ')': case '[': case ']': case '{': case '}':
      return true;
    default:
      return false;
  }
}

std::string clean_sentence(std::string_view sentence, bool (*deleted)(unsigned char)) {
  std::string t(sentence);
  for (const char* q : {"\"", "/", "\\", "'"}) t = replace_all(t, q, "");
  t = to_lower(strip(t));
  std::string out;
  out.reserve(t.size());
  for (char c : t)
    if (!deleted(static_cast<unsigned char>(c))) out.push_back(c);  // all deleted chars are ASCII
  return out;
}

std::string join_sentences(const std::string& text, bool (*deleted)(unsigned char)) {
  const std::vector<std::string> sentences = split_on(to_lower(strip(text)), ". ");
  std::string out;
  for (std::size_t i = 0; i < sentences.size(); ++i) {
    if (i > 0) out += " . ";
    out += clean_sentence(sentences[i], deleted);
  }
  out += " .";
  return out;
}

}  // namespace

std::string clean_report(std::string_view report, CleaningStyle style) {
  std::string s(report);
  if (style == CleaningStyle::kIuXray) {
    s = remove_enumeration(replace_n(std::move(s), "..", ".", 3));
    return join_sentences(s, deleted_r2gen);
  }
  s = replace_all(s, "\n", " ");
  s = replace_n(std::move(s), "__", "_", 7);
  s = replace_n(std::move(s), "  ", " ", 6);
  s = replace_n(std::move(s), "..", ".", 8);
  s = remove_enumeration(std::move(s));
  if (style == CleaningStyle::kMimicR2GenGPT) {
    s = replace_all(s, ":", " :");
    return join_sentences(s, deleted_r2gengpt);
  }
  return join_sentences(s, deleted_r2gen);
}

std::optional<CleaningStyle> parse_cleaning_style(std::string_view name) {
  if (name == "iu") return CleaningStyle::kIuXray;
  if (name == "mimic") return CleaningStyle::kMimicCxr;
  if (name == "mimic-r2gengpt") return CleaningStyle::kMimicR2GenGPT;
  return std::nullopt;
}

}  // namespace emrrg::metrics
