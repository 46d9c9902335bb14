// `emrrg encode`: the Vision Mamba encoder's token features of images, written as one safetensors
// tensor `features` [images, tokens, width] float32. The encoder comes from a config's [vision]
// table (models/vision_mamba/vision_config_toml.h) and a checkpoint (torch.save or safetensors,
// runtime/checkpoint.h), or is freshly initialised from a seed.
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/vision_mamba/vision_config_toml.h"
#include "runtime/random.h"
#include "runtime/safetensors.h"
#include "runtime/threading.h"
#include "train/cli/command_registry.h"
#include "train/cli/profile_option.h"
#include "train/image_encoding.h"

namespace {

struct EncodeOptions {
  std::string config, weights, out, key;
  std::vector<std::string> images, renames, excludes, plain_classes;
  bool random_init = false;
  uint64_t seed = 0;
  int64_t batch = 8;
  int threads = 0;
  emrrg::cli::ProfileChoice profile;
};

int run_encode(const EncodeOptions& o) {
  if (o.threads > 0) emrrg::set_num_threads(o.threads);
  const emrrg::models::VisionMambaConfig config = emrrg::models::load_vision_config(o.config);
  emrrg::Generator gen(o.seed);
  emrrg::models::VisionMamba encoder(config, gen);
  if (!o.random_init) {
    emrrg::CheckpointOptions c;
    c.key = o.key;
    c.exclude = o.excludes;
    c.inert_classes = o.plain_classes;
    for (const std::string& r : o.renames) {
      const size_t eq = r.find('=');
      if (eq == std::string::npos) throw std::invalid_argument("--rename '" + r + "' is not FROM=TO");
      c.rename_prefixes.emplace_back(r.substr(0, eq), r.substr(eq + 1));
    }
    encoder.load(o.weights, c);
  }
  auto session = emrrg::cli::start_profile(o.profile);
  const emrrg::Tensor features = emrrg::train::encode_image_files(encoder, o.images, o.batch);
  emrrg::cli::finish_profile(session, o.profile, std::cerr);
  emrrg::save_safetensors(o.out, {{"features", features}},
                          {{"kind", emrrg::models::to_string(config.kind)},
                           {"weights", o.random_init ? "random-init seed " + std::to_string(o.seed) : o.weights}});
  std::cout << "wrote " << o.out << ": features " << emrrg::shape_str(features.shape()) << " float32\n";
  return 0;
}

const bool registered = emrrg::cli::register_command(
    {"encode", "Write the Vision Mamba encoder's token features of images to a safetensors file", [](CLI::App& app) {
       auto o = std::make_shared<EncodeOptions>();
       app.add_option("--config", o->config, "TOML config with a [vision] table")->required()->check(CLI::ExistingFile);
       auto* weights = app.add_option("--weights", o->weights, "Checkpoint: torch.save (.pth) or safetensors")
                           ->check(CLI::ExistingFile);
       auto* random = app.add_flag("--random-init", o->random_init, "Encode with a freshly initialised model");
       weights->excludes(random);
       app.add_option("--seed", o->seed, "Seed of --random-init")->capture_default_str();
       app.add_option("--key", o->key, "Top-level entry of a nested torch checkpoint holding the state dict "
                                       "(default: model, state_dict or module)");
       // One value per occurrence, so that the images after them stay positional.
       app.add_option("--rename", o->renames, "Map a name prefix, FROM=TO (e.g. module.=); repeatable")
           ->allow_extra_args(false);
       app.add_option("--exclude", o->excludes, "Leave out checkpoint tensors whose (mapped) name matches this "
                                                "regex, e.g. 'head\\..*'; repeatable")
           ->allow_extra_args(false);
       app.add_option("--plain-class", o->plain_classes,
                      "A class in the checkpoint to keep as an inert record (never run), e.g. torch.device; "
                      "repeatable")
           ->allow_extra_args(false);
       app.add_option("--out", o->out, "Output safetensors file")->required();
       app.add_option("--batch", o->batch, "Images per forward pass")->capture_default_str()->check(CLI::PositiveNumber);
       app.add_option("--threads", o->threads, "CPU threads (0: all cores)")->capture_default_str();
       emrrg::cli::add_profile_options(app, o->profile, "");
       app.add_option("images", o->images, "Image files (PNG, JPEG, ...)")->required()->check(CLI::ExistingFile);
       return std::function<int()>([o] {
         if (o->weights.empty() && !o->random_init) throw std::invalid_argument("encode: give --weights or --random-init");
         return run_encode(*o);
       });
     }});

}  // namespace
