// llama2.c model files (legacy and v1 headers). A header may claim any size: the loader must
// compare it with the file before allocating the model.
#include <cstdint>
#include <stdexcept>

#include "models/llama/llama_loader.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = emrrg::fuzz::write_temp_file(data, size, "model.bin");
  try {
    auto model = emrrg::models::load_llama2c(path);
    for (const auto& [name, p] : model->named_parameters()) emrrg::fuzz::touch(p);
  } catch (const std::exception& e) {
    emrrg::fuzz::expect_names(e, path);
  }
  return 0;
}
