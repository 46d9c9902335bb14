// Hugging Face config.json of a Llama/Qwen2 model.
#include <cstdint>
#include <stdexcept>

#include "models/llama/llama_config.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = emrrg::fuzz::write_temp_file(data, size, "config.json");
  try {
    emrrg::models::parse_hf_llama_config(path).validate(path);
  } catch (const std::exception& e) {
    emrrg::fuzz::expect_names(e, path);
  }
  return 0;
}
