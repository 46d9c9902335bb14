// METEOR's WordNet synonym lookup (SynonymDictionary): a word's synsets, plus the synsets of
// its base form found through WordNet's exception list or its morphology rules (the WordNet 3
// "morphy" suffix table, first rule whose result is a known word wins).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "train/metrics/meteor_data.h"

namespace emrrg::metrics {

class SynonymDictionary {
 public:
  explicit SynonymDictionary(const MeteorData& data) : data_(data) {}

  // Synset numbers of the word itself (empty when unknown).
  const std::vector<int>& syn_sets(const std::string& word) const;
  // Synsets of the word's base forms (exceptions first, else morphology).
  std::vector<int> stem_syn_sets(const std::string& word) const;
  // Both, sorted and without duplicates: what METEOR's synonym matcher compares.
  std::vector<int> all_syn_sets(const std::string& word) const;
  // The morphology step alone: the first suffix rewrite that gives a known word, the word
  // itself when it ends in "ss" or has at most two characters, else "".
  std::string morph(const std::string& word) const;

 private:
  const MeteorData& data_;
};

}  // namespace emrrg::metrics
