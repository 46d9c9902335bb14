#include "models/vision_mamba/vision_config_toml.h"

#include <functional>
#include <map>
#include <stdexcept>

namespace emrrg::models {

namespace {

// Where a value sits, for errors: "config 'f.toml' line 4: [vision] d_model".
struct Place {
  const std::string& source;
  std::string table;
  std::string key;
  const toml::node& node;
  [[noreturn]] void fail(const std::string& what) const {
    std::string line;
    if (node.source().begin.line > 0) line = " line " + std::to_string(node.source().begin.line);
    throw std::runtime_error("config '" + source + "'" + line + ": [" + table + "] " + key + " " + what);
  }
  std::string type_name() const {
    switch (node.type()) {
      case toml::node_type::string: return "a string";
      case toml::node_type::integer: return "an integer";
      case toml::node_type::floating_point: return "a number with a fraction";
      case toml::node_type::boolean: return "a boolean";
      case toml::node_type::table: return "a table";
      case toml::node_type::array: return "an array";
      default: return "a date or time";
    }
  }
  int64_t integer() const {
    if (!node.is_integer()) fail("must be an integer, got " + type_name());
    return node.as_integer()->get();
  }
  double number() const {
    if (node.is_integer()) return static_cast<double>(node.as_integer()->get());
    if (!node.is_floating_point()) fail("must be a number, got " + type_name());
    return node.as_floating_point()->get();
  }
  bool boolean() const {
    if (!node.is_boolean()) fail("must be true or false, got " + type_name());
    return node.as_boolean()->get();
  }
  std::string string() const {
    if (!node.is_string()) fail("must be a string, got " + type_name());
    return node.as_string()->get();
  }
};

template <typename Config> using Fields = std::map<std::string, std::function<void(Config&, const Place&)>>;

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

template <typename Config>
void read_table(Config& config, const toml::table& table, const std::string& name, const Fields<Config>& fields,
                const std::string& source, const std::function<bool(const std::string&, const Place&)>& extra = {}) {
  for (auto&& [key, node] : table) {
    const Place place{source, name, std::string(key.str()), node};
    if (extra && extra(place.key, place)) continue;
    auto it = fields.find(place.key);
    if (it == fields.end()) {
      std::string known;
      for (const auto& [k, f] : fields) known += (known.empty() ? "" : ", ") + k;
      place.fail("is not a known key (known: " + known + ")");
    }
    it->second(config, place);
  }
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
      {"dtype",
       [](auto& c, const Place& p) {
         const std::string name = p.string();
         if (name != "float32" && name != "bfloat16" && name != "float16" && name != "float64")
           p.fail("'" + name + "' is not float32, bfloat16, float16 or float64");
         c.dtype = dtype_from_name(name);
       }},
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
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw std::runtime_error("config '" + path + "' line " + std::to_string(e.source().begin.line) + ": " +
                             std::string(e.description()));
  }
  const toml::table* vision = root["vision"].as_table();
  if (vision == nullptr) throw std::runtime_error("config '" + path + "' has no [vision] table");
  return vision_config_from_toml(*vision, path);
}

}  // namespace emrrg::models
