// The `[vision]` table of a TOML config -> VisionMambaConfig (config.h). `emrrg encode` reads it,
// and EMRRG's config reuses the same table for its encoder:
//
//   [vision]
//   kind = "vim"            # required: "vim" | "arm"; the other keys default to that kind's
//                           # published preset (vim: Vim-tiny, arm: ARM base)
//   image_size = 224        # integers: image_size, patch_size, channels, d_model, depth,
//   patch_size = 16         #           d_state, expand, num_classes
//   d_model = 192
//   norm_eps = 1e-5         # a number
//   dtype = "float32"       # of the weights: "float32" | "bfloat16" | "float16" | "float64"
//   [vision.peft]           # booleans: full_finetune, lora_p_x, lora_p_z, lora_p_dt, lora_p_b,
//   lora_p_x = true         #   lora_p_c, lora_in_proj, lora_x_proj, lora_dt_proj, lora_out_proj,
//   rank = 32               #   lora_patch_embed; integer rank; numbers scale and dropout
//
// An unknown key, a value of the wrong type or an invalid config is an error naming the file, the
// line and the key.
#pragma once
#include <string>
#include <toml++/toml.h>

#include "models/vision_mamba/config.h"

namespace emrrg::models {

// `vision` is the [vision] table; `source` names where it came from in errors.
VisionMambaConfig vision_config_from_toml(const toml::table& vision, const std::string& source);
// Parses the TOML file at `path` and reads its [vision] table (other tables are left to others).
VisionMambaConfig load_vision_config(const std::string& path);

}  // namespace emrrg::models
