// `emrrg inspect`: what a Vision Mamba encoder looks at in one image. PNG figures over the patch
// grid for every layer: mean delta and state norm per scan direction, and the implicit attention
// of the class token (and of --patch R,C) with the directions combined as the mixer combines them
// (train/encoder_inspection.h, train/inspect_figures.h, docs/mamba/06-inspect.md).
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "runtime/threading.h"
#include "train/cli/command_registry.h"
#include "train/cli/encoder_source.h"
#include "train/data/image_io.h"
#include "train/data/image_transform.h"
#include "train/encoder_inspection.h"
#include "train/inspect_figures.h"

namespace {

struct InspectOptions {
  emrrg::cli::EncoderSource source;
  std::string image, out;
  std::vector<std::string> patches;
  int threads = 0;
};

// "R,C" -> the patch's token index.
int64_t parse_patch(const emrrg::models::VisionMambaConfig& config, const std::string& text) {
  const size_t comma = text.find(',');
  size_t used_r = 0, used_c = 0;
  int64_t r = -1, c = -1;
  try {
    if (comma != std::string::npos) {
      r = std::stoll(text.substr(0, comma), &used_r);
      c = std::stoll(text.substr(comma + 1), &used_c);
    }
  } catch (const std::exception&) {
    used_r = 0;
  }
  if (comma == std::string::npos || used_r != comma || used_c != text.size() - comma - 1)
    throw std::invalid_argument("--patch '" + text + "' is not ROW,COL");
  return emrrg::train::patch_token(config, r, c);
}

int run_inspect(const InspectOptions& o) {
  if (o.threads > 0) emrrg::set_num_threads(o.threads);
  const std::unique_ptr<emrrg::models::VisionMamba> encoder = emrrg::cli::load_encoder(o.source);
  const emrrg::models::VisionMambaConfig& c = encoder->config();
  if (c.channels != 3)
    throw std::invalid_argument("inspect: the encoder takes " + std::to_string(c.channels) +
                                " channels; images are preprocessed to RGB (3)");
  std::vector<int64_t> queries = {c.class_token_index()};
  for (const std::string& p : o.patches) queries.push_back(parse_patch(c, p));
  const emrrg::data::Image image = emrrg::data::read_image(o.image);
  const int size = static_cast<int>(c.image_size);
  const emrrg::data::ImageTransform transform(emrrg::data::ImageTransformConfig{size});
  emrrg::Tensor input = emrrg::empty({1, 3, c.image_size, c.image_size});  // [1, 3, size, size]
  transform.apply(image, input.data<float>());
  const emrrg::train::Inspection inspection = emrrg::train::inspect_encoder(*encoder, convert(input, c.dtype), queries);
  const std::vector<std::string> written =
      emrrg::train::write_inspection_figures(inspection, emrrg::train::model_view_grey(image, size), o.out);
  std::cout << "wrote " << written.size() << " figures of " << inspection.layers.size() << " layers ("
            << o.source.describe() << ") to " << o.out << "\n";
  return 0;
}

const bool registered = emrrg::cli::register_command(
    {"inspect", "Draw what a Vision Mamba encoder looks at in an image: mean delta, state norm and implicit "
                "attention per layer, as PNG heat maps",
     [](CLI::App& app) {
       auto o = std::make_shared<InspectOptions>();
       emrrg::cli::add_encoder_source_options(app, o->source);
       app.add_option("--out", o->out, "Output directory for the figures")->required();
       app.add_option("--patch", o->patches, "Also draw the implicit attention of this patch, ROW,COL; repeatable")
           ->allow_extra_args(false);
       app.add_option("--threads", o->threads, "CPU threads (0: all cores)")->capture_default_str();
       app.add_option("image", o->image, "Image file (PNG, JPEG, ...)")->required()->check(CLI::ExistingFile);
       return std::function<int()>([o] { return run_inspect(*o); });
     }});

}  // namespace
