// METEOR 1.5's English resources, loaded from the files shipped in train/metrics/meteor-data/
// (WordNet 3.0 synonym data, the function-word list, the Moses non-breaking prefixes).
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace emrrg::metrics {

// A non-breaking prefix: "Mr" keeps its dot always, "No" only before a number.
enum class NonbreakingType { kAny, kNumericOnly };

struct MeteorData {
  std::string directory;
  std::unordered_set<std::string> function_words;                          // english.words
  std::unordered_map<std::string, NonbreakingType> nonbreaking_prefixes;   // english.prefixes
  std::unordered_map<std::string, std::vector<int>> word_to_synsets;       // english.synsets
  std::unordered_map<std::string, std::vector<std::string>> form_to_bases; // english.exceptions
};

// The directory the program uses when not told otherwise: $EMRRG_METEOR_DATA when set and
// non-empty, else the source tree's train/metrics/meteor-data (a compile-time path).
std::string default_meteor_data_dir();

// Loads the four files from `directory`; throws std::runtime_error naming the missing or
// malformed file.
std::shared_ptr<const MeteorData> load_meteor_data(const std::string& directory);

// load_meteor_data(default_meteor_data_dir()), loaded once per process.
std::shared_ptr<const MeteorData> default_meteor_data();

}  // namespace emrrg::metrics
