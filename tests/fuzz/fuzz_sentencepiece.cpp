// SentencePiece tokenizer.model files (protobuf, parsed by Debian's libsentencepiece), through
// load_tokenizer, which also decides the format from the content.
#include <cstdint>
#include <stdexcept>

#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/tokenizer_roundtrip.h"
#include "train/data/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = emrrg::fuzz::write_temp_file(data, size, "tokenizer.model");
  try {
    emrrg::fuzz::exercise_tokenizer(*emrrg::data::load_tokenizer(path));
  } catch (const std::exception& e) {
    emrrg::fuzz::expect_names(e, path);
  }
  return 0;
}
