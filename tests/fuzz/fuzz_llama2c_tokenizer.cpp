// llama2.c tokenizer.bin files.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/tokenizer_roundtrip.h"
#include "train/data/llama2c_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  (void)emrrg::data::looks_like_llama2c_tokenizer(bytes);
  try {
    const emrrg::data::Llama2cTokenizer tok(bytes, "fuzz.bin");
    emrrg::fuzz::exercise_tokenizer(tok);
  } catch (const std::exception& e) {
    emrrg::fuzz::expect_names(e, "fuzz.bin");
  }
  return 0;
}
