// METEOR 1.5's aligner (edu.cmu.meteor.aligner.Aligner) with the exact, stem (Snowball
// English) and synonym (WordNet) modules. Candidate matches are collected module by module;
// one-to-one matches no other match overlaps are fixed; the rest is resolved by METEOR's beam
// search (beam 40) that ranks partial alignments by weighted match count (module weights
// 1, 0.5, 0.5, added to an int as Java's `+=` does, so a one-word stem or synonym match
// adds nothing), then fewer chunks, then smaller distance, with Java's stable sort, and the
// same bookkeeping quirk for the distance of the path being extended.
#pragma once
#include <array>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "train/metrics/meteor_data.h"
#include "train/metrics/meteor_synonyms.h"

struct sb_stemmer;

namespace emrrg::metrics {

inline constexpr int kMeteorModules = 3;  // exact, stem, synonym (paraphrase unavailable)

// Per-alignment statistics, as MeteorScorer.getMeteorStats(Alignment) reads them.
struct MeteorAlignment {
  int test_length = 0;
  int ref_length = 0;
  int test_function_words = 0;
  int ref_function_words = 0;
  std::array<int, kMeteorModules> test_content{};
  std::array<int, kMeteorModules> ref_content{};
  std::array<int, kMeteorModules> test_function{};
  std::array<int, kMeteorModules> ref_function{};
  int chunks = 0;
};

class MeteorAligner {
 public:
  explicit MeteorAligner(std::shared_ptr<const MeteorData> data);
  ~MeteorAligner();
  MeteorAligner(const MeteorAligner&) = delete;
  MeteorAligner& operator=(const MeteorAligner&) = delete;

  // Aligns a tokenised, lower-cased test (hypothesis) against a reference.
  MeteorAlignment align(const std::vector<std::string>& test, const std::vector<std::string>& reference);

  // The Snowball English stem of a word.
  std::string stem(const std::string& word);

 private:
  struct WordInfo {
    std::int32_t hash = 0;
    std::int32_t stem_hash = 0;
    bool function_word = false;
    std::vector<int> synsets;
  };
  const WordInfo& info(const std::string& word);

  std::shared_ptr<const MeteorData> data_;
  SynonymDictionary synonyms_;
  sb_stemmer* stemmer_ = nullptr;
  std::unordered_map<std::string, WordInfo> cache_;
};

}  // namespace emrrg::metrics
