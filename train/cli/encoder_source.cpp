#include "train/cli/encoder_source.h"

#include <stdexcept>

#include "models/vision_mamba/vision_config_toml.h"
#include "runtime/random.h"

namespace emrrg::cli {

std::string EncoderSource::describe() const {
  return random_init ? "random-init seed " + std::to_string(seed) : weights;
}

void add_encoder_source_options(CLI::App& app, EncoderSource& o) {
  app.add_option("--config", o.config, "TOML config with a [vision] table")->required()->check(CLI::ExistingFile);
  auto* weights =
      app.add_option("--weights", o.weights, "Checkpoint: torch.save (.pth) or safetensors")->check(CLI::ExistingFile);
  auto* random = app.add_flag("--random-init", o.random_init, "Use a freshly initialised model");
  weights->excludes(random);
  app.add_option("--seed", o.seed, "Seed of --random-init")->capture_default_str();
  app.add_option("--key", o.key, "Top-level entry of a nested torch checkpoint holding the state dict "
                                 "(default: model, state_dict or module)");
  // One value per occurrence, so that the images after them stay positional.
  app.add_option("--rename", o.renames, "Map a name prefix, FROM=TO (e.g. module.=); repeatable")
      ->allow_extra_args(false);
  app.add_option("--exclude", o.excludes, "Leave out checkpoint tensors whose (mapped) name matches this "
                                          "regex, e.g. 'head\\..*'; repeatable")
      ->allow_extra_args(false);
  app.add_option("--plain-class", o.plain_classes,
                 "A class in the checkpoint to keep as an inert record (never run), e.g. torch.device; "
                 "repeatable")
      ->allow_extra_args(false);
}

std::unique_ptr<models::VisionMamba> load_encoder(const EncoderSource& o) {
  if (o.weights.empty() && !o.random_init) throw std::invalid_argument("give --weights or --random-init");
  const models::VisionMambaConfig config = models::load_vision_config(o.config);
  Generator gen(o.seed);
  auto encoder = std::make_unique<models::VisionMamba>(config, gen);
  if (!o.random_init) {
    CheckpointOptions c;
    c.key = o.key;
    c.exclude = o.excludes;
    c.inert_classes = o.plain_classes;
    for (const std::string& r : o.renames) {
      const auto mapping = parse_prefix_rename(r);
      if (!mapping) throw std::invalid_argument("--rename '" + r + "' is not FROM=TO");
      c.rename_prefixes.push_back(*mapping);
    }
    encoder->load(o.weights, c);
  }
  return encoder;
}

}  // namespace emrrg::cli
