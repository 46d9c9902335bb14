#include "models/vision_mamba/vision_config_toml.h"

#include <stdexcept>

#include "models/config_toml.h"

namespace emrrg::models {

namespace {

using config_toml::Fields;
using config_toml::Place;
using config_toml::read_table;

const Fields<VisionPeftConfig>& peft_fields() {
  static const Fields<VisionPeftConfig> fields = {
      {"full_finetune", [](auto& c, const Place& p) { c.full_finetune = p.boolean(); }},
      {"lora_p_x", [](auto& c, const Place& p) { c.lora_p_x = p.boolean(); }},
      {"lora_p_z", [](auto& c, const Place& p) { c.lora_p_z = p.boolean(); }},
      {"lora_p_dt", [](auto& c, const Place& p) { c.lora_p_dt = p.boolean(); }},
      {"lora_p_b", [](auto& c, const Place& p) { c.lora_p_b = p.boolean(); }},
      {"lora_p_c", [](auto& c, const Place& p) { c.lora_p_c = p.boolean(); }},
      {"lora_in_proj", [](auto& c, const Place& p) { c.lora_in_proj = p.boolean(); }},
      {"lora_x_proj", [](auto& c, const Place& p) { c.lora_x_proj = p.boolean(); }},
      {"lora_dt_proj", [](auto& c, const Place& p) { c.lora_dt_proj = p.boolean(); }},
      {"lora_out_proj", [](auto& c, const Place& p) { c.lora_out_proj = p.boolean(); }},
      {"lora_patch_embed", [](auto& c, const Place& p) { c.lora_patch_embed = p.boolean(); }},
      {"rank", [](auto& c, const Place& p) { c.rank = p.integer(); }},
      {"scale", [](auto& c, const Place& p) { c.scale = p.number(); }},
      {"dropout", [](auto& c, const Place& p) { c.dropout = p.number(); }},
  };
  return fields;
}

const Fields<VisionMambaConfig>& vision_fields() {
  static const Fields<VisionMambaConfig> fields = {
      {"image_size", [](auto& c, const Place& p) { c.image_size = p.integer(); }},
      {"patch_size", [](auto& c, const Place& p) { c.patch_size = p.integer(); }},
      {"channels", [](auto& c, const Place& p) { c.channels = p.integer(); }},
      {"d_model", [](auto& c, const Place& p) { c.d_model = p.integer(); }},
      {"depth", [](auto& c, const Place& p) { c.depth = p.integer(); }},
      {"d_state", [](auto& c, const Place& p) { c.d_state = p.integer(); }},
      {"expand", [](auto& c, const Place& p) { c.expand = p.integer(); }},
      {"num_classes", [](auto& c, const Place& p) { c.num_classes = p.integer(); }},
      {"norm_eps", [](auto& c, const Place& p) { c.norm_eps = p.number(); }},
      {"dtype", [](auto& c, const Place& p) { c.dtype = p.dtype(); }},
  };
  return fields;
}

}  // namespace

VisionMambaConfig vision_config_from_toml(const toml::table& vision, const std::string& source) {
  const toml::node* kind_node = vision.get("kind");
  if (kind_node == nullptr) throw std::runtime_error("config '" + source + "': [vision] has no kind (\"vim\" or \"arm\")");
  const Place kind_place{source, "vision", "kind", *kind_node};
  const std::string kind = kind_place.string();
  if (kind != "vim" && kind != "arm") kind_place.fail("'" + kind + "' is not \"vim\" or \"arm\"");
  VisionMambaConfig config = kind == "vim" ? VisionMambaConfig::vim_tiny() : VisionMambaConfig::arm_base();
  read_table(config, vision, "vision", vision_fields(), source, [&](const std::string& key, const Place& p) {
    if (key == "kind") return true;
    if (key != "peft") return false;
    if (!p.node.is_table()) p.fail("must be a table, got " + p.type_name());
    read_table(config.peft, *p.node.as_table(), "vision.peft", peft_fields(), source);
    return true;
  });
  try {
    config.validate();
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error("config '" + source + "': [vision] " + e.what());
  }
  return config;
}

VisionMambaConfig load_vision_config(const std::string& path) {
  const toml::table root = config_toml::parse_file(path);
  const toml::table* vision = root["vision"].as_table();
  if (vision == nullptr) throw std::runtime_error("config '" + path + "' has no [vision] table");
  return vision_config_from_toml(*vision, path);
}

}  // namespace emrrg::models
