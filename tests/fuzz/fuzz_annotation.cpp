// annotation.json (R2Gen layout), strict and skip-bad, exact and lenient split names.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "tests/fuzz/fuzz_util.h"
#include "train/data/annotation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const bool skip_bad : {false, true}) {
    try {
      const emrrg::data::AnnotationSplit s = emrrg::data::parse_annotation_split(
          text, "fuzz.json", "train", {.skip_bad = skip_bad, .lenient_split_names = skip_bad});
      for (const auto& p : s.problems) if (p.find("fuzz.json") == std::string::npos) __builtin_trap();
    } catch (const std::exception& e) {
      emrrg::fuzz::expect_names(e, "fuzz.json");
    }
  }
  return 0;
}
