// Where the subcommands that run the Vision Mamba encoder (encode, inspect) get it from: a
// config's [vision] table (models/vision_mamba/vision_config_toml.h) and a checkpoint (torch.save
// or safetensors, runtime/checkpoint.h), or a fresh initialisation from a seed.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "models/vision_mamba/vision_mamba.h"

namespace emrrg::cli {

struct EncoderSource {
  std::string config, weights, key;
  std::vector<std::string> renames, excludes, plain_classes;
  bool random_init = false;
  uint64_t seed = 0;

  // "random-init seed S" or the weights' path.
  std::string describe() const;
};

// --config (required), --weights | --random-init, --seed, --key, --rename, --exclude, --plain-class.
void add_encoder_source_options(CLI::App& app, EncoderSource& source);
// Builds the encoder and loads its weights; throws naming the missing --weights or the bad option.
std::unique_ptr<models::VisionMamba> load_encoder(const EncoderSource& source);

}  // namespace emrrg::cli
