// The shard index of a Hugging Face model folder (model.safetensors.index.json): a folder holding
// the tiny Llama fixture's config.json and its tensors split over two shards, with the input as
// the index, loaded as a model.
#include <cstdint>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>

#include "models/llama/llama_loader.h"
#include "runtime/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

namespace fs = std::filesystem;

// temp_dir()/model with config.json and model-0000{1,2}-of-00002.safetensors.
const std::string& model_folder() {
  static const std::string folder = [] {
    const fs::path dir = fs::path(emrrg::fuzz::temp_dir()) / "model";
    fs::create_directories(dir);
    const std::string fixture = emrrg::fuzz::fixture_path("llama/tiny_llama");
    fs::copy_file(fixture + "/config.json", dir / "config.json", fs::copy_options::overwrite_existing);
    const emrrg::SafetensorsFile all = emrrg::SafetensorsFile::open(fixture + "/model.safetensors");
    std::map<std::string, emrrg::Tensor> shards[2];
    int i = 0;
    for (const std::string& name : all.names()) shards[i++ % 2].emplace(name, all.get(name));
    emrrg::save_safetensors((dir / "model-00001-of-00002.safetensors").string(), shards[0]);
    emrrg::save_safetensors((dir / "model-00002-of-00002.safetensors").string(), shards[1]);
    return dir.string();
  }();
  return folder;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& folder = model_folder();
  emrrg::fuzz::write_temp_file(data, size, "model/model.safetensors.index.json");
  try {
    auto model = emrrg::models::load_hf_llama(folder);
    for (const auto& [name, p] : model->named_parameters()) emrrg::fuzz::touch(p);
  } catch (const std::exception& e) {
    emrrg::fuzz::expect_names(e, folder);
  }
  return 0;
}
