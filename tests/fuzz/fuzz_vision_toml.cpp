// The [vision] table of a TOML config.
#include <cstdint>
#include <stdexcept>

#include "models/vision_mamba/vision_config_toml.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = emrrg::fuzz::write_temp_file(data, size, "config.toml");
  try {
    (void)emrrg::models::load_vision_config(path);
  } catch (const std::exception& e) {
    emrrg::fuzz::expect_names(e, path);
  }
  return 0;
}
