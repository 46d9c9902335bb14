// Hugging Face byte-level BPE tokenizer.json files.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/tokenizer_roundtrip.h"
#include "train/data/bpe_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)emrrg::data::looks_like_tokenizer_json(text);
  try {
    const emrrg::data::BpeTokenizer tok(text, "fuzz.json");
    emrrg::fuzz::exercise_tokenizer(tok);
    (void)tok.token_id("<|endoftext|>");
  } catch (const std::exception& e) {
    emrrg::fuzz::expect_names(e, "fuzz.json");
  }
  return 0;
}
