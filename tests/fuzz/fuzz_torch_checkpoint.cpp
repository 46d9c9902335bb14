// torch.save files (zip + restricted pickle), read as a checkpoint into a state dict whose
// tensors are read end to end.
#include <cstdint>
#include <stdexcept>

#include "runtime/checkpoint.h"
#include "runtime/torch_checkpoint.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = emrrg::fuzz::write_temp_file(data, size, "input.pth");
  try {
    if (!emrrg::looks_like_torch_save(path)) return 0;
    for (const auto& [name, tensor] : emrrg::read_checkpoint(path)) emrrg::fuzz::touch(tensor);
  } catch (const std::exception& e) {
    emrrg::fuzz::expect_names(e, path);
  }
  return 0;
}
