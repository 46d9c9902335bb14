// Report text as `emrrg eval` and the data set see it: a reports file split into lines, each
// cleaned with every rule, tokenised with each tokenizer format, labelled, and every metric
// over (the lines, the lines reversed) as (references, hypotheses).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_util.h"
#include "train/data/tokenizer.h"
#include "train/metrics/chexpert_labeller.h"
#include "train/metrics/report_cleaning.h"
#include "train/metrics/report_io.h"
#include "train/metrics/report_metrics.h"

namespace {

const std::vector<std::unique_ptr<emrrg::data::Tokenizer>>& tokenizers() {
  static const auto all = [] {
    std::vector<std::unique_ptr<emrrg::data::Tokenizer>> t;
    for (const char* f : {"tokenizers/tok512.bin", "tokenizers/tok512.model", "tokenizers/qwen2_style_bpe.json"})
      t.push_back(emrrg::data::load_tokenizer(emrrg::fuzz::fixture_path(f)));
    return t;
  }();
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace emrrg::metrics;
  std::vector<std::string> lines;
  try {
    lines = split_report_lines(std::string(reinterpret_cast<const char*>(data), size), "fuzz.txt");
  } catch (const std::runtime_error& e) {
    emrrg::fuzz::expect_names(e, "fuzz.txt");
    return 0;
  }
  if (lines.empty() || lines.size() > 16) return 0;
  std::vector<std::string> cleaned;
  for (const std::string& line : lines) {
    for (CleaningStyle style : {CleaningStyle::kIuXray, CleaningStyle::kMimicCxr, CleaningStyle::kMimicR2GenGPT}) {
      const std::string c = clean_report(line, style);
      for (const auto& tok : tokenizers()) (void)tok->decode(tok->encode(c, false, true));
      if (style == CleaningStyle::kIuXray) cleaned.push_back(c);
    }
    (void)label_report(line);
  }
  std::vector<std::string> reversed(cleaned.rbegin(), cleaned.rend());
  (void)compute_report_metrics(cleaned, reversed);
  (void)compute_report_metrics(lines, lines);
  return 0;
}
