#include "train/metrics/meteor_synonyms.h"

#include <algorithm>
#include <array>

#include "train/metrics/meteor_text.h"

namespace emrrg::metrics {

namespace {
// WordNet 3's morphology table: noun, verb and adjective suffixes and their replacements.
constexpr std::array<std::string_view, 20> kSuffix = {
    "s", "ses", "xes", "zes", "ches", "shes", "men", "ies",  // nouns
    "s", "ies", "es", "es", "ed", "ed", "ing", "ing",         // verbs
    "er", "est", "er", "est"};                                // adjectives
constexpr std::array<std::string_view, 20> kEnding = {
    "", "s", "x", "z", "ch", "sh", "man", "y",
    "", "y", "e", "", "e", "", "e", "",
    "", "", "e", "e"};
const std::vector<int> kNone;
}  // namespace

const std::vector<int>& SynonymDictionary::syn_sets(const std::string& word) const {
  const auto it = data_.word_to_synsets.find(word);
  return it == data_.word_to_synsets.end() ? kNone : it->second;
}

std::string SynonymDictionary::morph(const std::string& word) const {
  if (word.ends_with("ss") || utf16_length(word) <= 2) return word;
  for (std::size_t i = 0; i < kSuffix.size(); ++i) {
    if (!word.ends_with(kSuffix[i])) continue;
    std::string candidate = word.substr(0, word.size() - kSuffix[i].size());
    candidate += kEnding[i];
    if (data_.word_to_synsets.contains(candidate)) return candidate;
  }
  return "";
}

std::vector<int> SynonymDictionary::stem_syn_sets(const std::string& word) const {
  const auto it = data_.form_to_bases.find(word);
  if (it != data_.form_to_bases.end()) {
    std::vector<int> out;
    for (const auto& base : it->second) {
      const auto& s = syn_sets(base);
      out.insert(out.end(), s.begin(), s.end());
    }
    return out;
  }
  return syn_sets(morph(word));
}

std::vector<int> SynonymDictionary::all_syn_sets(const std::string& word) const {
  std::vector<int> out = syn_sets(word);
  const std::vector<int> more = stem_syn_sets(word);
  out.insert(out.end(), more.begin(), more.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace emrrg::metrics
