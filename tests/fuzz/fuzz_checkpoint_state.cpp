// The trainer's checkpoint state (train/checkpoint.h): a checkpoint directory holding the
// weights and AdamW moments of tests/fuzz/checkpoint/ with the input as trainer_state.json,
// loaded (byte counts and CRC-32C of both files checked) and every tensor read.
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "tests/fuzz/fuzz_util.h"
#include "train/checkpoint.h"

namespace {

namespace fs = std::filesystem;

const std::string& checkpoint_dir() {
  static const std::string dir = [] {
    const fs::path d = fs::path(emrrg::fuzz::temp_dir()) / "step_00000040";
    fs::create_directories(d);
    for (const char* f : {"model.safetensors", "optimizer.safetensors"})
      fs::copy_file(fs::path(EMRRG_FUZZ_DIR) / "checkpoint" / f, d / f, fs::copy_options::overwrite_existing);
    return d.string();
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& dir = checkpoint_dir();
  emrrg::fuzz::write_temp_file(data, size, "step_00000040/trainer_state.json");
  try {
    const emrrg::train::Checkpoint ck = emrrg::train::load_checkpoint(dir);
    for (const auto& [name, t] : ck.weights) emrrg::fuzz::touch(t);
    for (const auto& [name, t] : ck.optimizer) emrrg::fuzz::touch(t);
  } catch (const std::exception& e) {
    emrrg::fuzz::expect_names(e, dir);
  }
  return 0;
}
