#include "train/metrics/meteor_data.h"

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <stdexcept>

#include "train/metrics/meteor_text.h"

#ifndef EMRRG_METEOR_DATA_DIR
#define EMRRG_METEOR_DATA_DIR "train/metrics/meteor-data"
#endif

namespace emrrg::metrics {

namespace {

// Reads lines as Java's BufferedReader.readLine does (\n, \r or \r\n end a line).
std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("METEOR data file not found: " + path +
                             " (point --meteor-data or EMRRG_METEOR_DATA at the folder holding "
                             "english.synsets, english.exceptions, english.words, english.prefixes)");
  }
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> lines;
  std::string cur;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const char c = all[i];
    if (c == '\n' || c == '\r') {
      lines.push_back(std::move(cur));
      cur.clear();
      if (c == '\r' && i + 1 < all.size() && all[i + 1] == '\n') ++i;
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) lines.push_back(std::move(cur));
  return lines;
}

int parse_int(const std::string& token, const std::string& path, std::size_t line) {
  char* end = nullptr;
  const long v = std::strtol(token.c_str(), &end, 10);
  if (token.empty() || *end != '\0') {
    throw std::runtime_error(path + ":" + std::to_string(line) + ": not a synset number: '" + token + "'");
  }
  return static_cast<int>(v);
}

}  // namespace

std::string default_meteor_data_dir() {
  const char* env = std::getenv("EMRRG_METEOR_DATA");
  if (env != nullptr && *env != '\0') return env;
  return EMRRG_METEOR_DATA_DIR;
}

std::shared_ptr<const MeteorData> load_meteor_data(const std::string& directory) {
  auto data = std::make_shared<MeteorData>();
  data->directory = directory;
  const std::string base = directory + "/english.";

  for (auto& line : read_lines(base + "words")) data->function_words.insert(std::move(line));

  for (const auto& line : read_lines(base + "prefixes")) {
    const auto tokens = java_tokenize(line);
    if (tokens.empty() || tokens[0].starts_with("#")) continue;
    NonbreakingType type = NonbreakingType::kAny;
    if (tokens.size() > 1 && tokens[1] == "#NUMERIC_ONLY#") type = NonbreakingType::kNumericOnly;
    data->nonbreaking_prefixes[tokens[0]] = type;
  }

  {
    const std::string path = base + "synsets";
    const auto lines = read_lines(path);
    if (lines.size() % 2 != 0) throw std::runtime_error(path + ": odd number of lines");
    data->word_to_synsets.reserve(lines.size() / 2);
    for (std::size_t i = 0; i + 1 < lines.size(); i += 2) {
      std::vector<int> sets;
      for (const auto& tok : java_tokenize(lines[i + 1])) sets.push_back(parse_int(tok, path, i + 2));
      data->word_to_synsets[lines[i]] = std::move(sets);  // a later entry replaces an earlier one
    }
  }

  {
    const std::string path = base + "exceptions";
    const auto lines = read_lines(path);
    if (lines.size() % 2 != 0) throw std::runtime_error(path + ": odd number of lines");
    for (std::size_t i = 0; i + 1 < lines.size(); i += 2) {
      for (const auto& form : java_tokenize(lines[i + 1])) data->form_to_bases[form].push_back(lines[i]);
    }
  }
  return data;
}

std::shared_ptr<const MeteorData> default_meteor_data() {
  static std::once_flag once;
  static std::shared_ptr<const MeteorData> data;
  std::call_once(once, [] { data = load_meteor_data(default_meteor_data_dir()); });
  return data;
}

}  // namespace emrrg::metrics
