// safetensors files: the header is validated whole at open, then every tensor is read end to end.
#include <cstdint>
#include <stdexcept>

#include "runtime/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = emrrg::fuzz::write_temp_file(data, size, "input.safetensors");
  try {
    const emrrg::SafetensorsFile f = emrrg::SafetensorsFile::open(path);
    for (const std::string& name : f.names()) emrrg::fuzz::touch(f.get(name));
    (void)f.metadata();
  } catch (const std::exception& e) {
    emrrg::fuzz::expect_names(e, path);
  }
  return 0;
}
