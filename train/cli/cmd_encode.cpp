// `emrrg encode`: the Vision Mamba encoder's token features of images, written as one safetensors
// tensor `features` [images, tokens, width] float32. The encoder comes from a config's [vision]
// table and a checkpoint, or is freshly initialised from a seed (train/cli/encoder_source.h).
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "runtime/safetensors.h"
#include "runtime/threading.h"
#include "train/cli/command_registry.h"
#include "train/cli/encoder_source.h"
#include "train/image_encoding.h"

namespace {

struct EncodeOptions {
  emrrg::cli::EncoderSource source;
  std::string out;
  std::vector<std::string> images;
  int64_t batch = 8;
  int threads = 0;
};

int run_encode(const EncodeOptions& o) {
  if (o.threads > 0) emrrg::set_num_threads(o.threads);
  const std::unique_ptr<emrrg::models::VisionMamba> encoder = emrrg::cli::load_encoder(o.source);
  const emrrg::Tensor features = emrrg::train::encode_image_files(*encoder, o.images, o.batch);
  emrrg::save_safetensors(o.out, {{"features", features}},
                          {{"kind", emrrg::models::to_string(encoder->config().kind)},
                           {"weights", o.source.describe()}});
  std::cout << "wrote " << o.out << ": features " << emrrg::shape_str(features.shape()) << " float32\n";
  return 0;
}

const bool registered = emrrg::cli::register_command(
    {"encode", "Write the Vision Mamba encoder's token features of images to a safetensors file", [](CLI::App& app) {
       auto o = std::make_shared<EncodeOptions>();
       emrrg::cli::add_encoder_source_options(app, o->source);
       app.add_option("--out", o->out, "Output safetensors file")->required();
       app.add_option("--batch", o->batch, "Images per forward pass")->capture_default_str()->check(CLI::PositiveNumber);
       app.add_option("--threads", o->threads, "CPU threads (0: all cores)")->capture_default_str();
       app.add_option("images", o->images, "Image files (PNG, JPEG, ...)")->required()->check(CLI::ExistingFile);
       return std::function<int()>([o] { return run_encode(*o); });
     }});

}  // namespace
