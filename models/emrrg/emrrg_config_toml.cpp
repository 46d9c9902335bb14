#include "models/emrrg/emrrg_config_toml.h"

#include <filesystem>
#include <map>
#include <vector>
#include <stdexcept>

#include "models/config_toml.h"
#include "models/vision_mamba/vision_config_toml.h"

namespace emrrg::models {
namespace {

using config_toml::Fields;
using config_toml::Place;

// An error of a parse_* function about the value at `p`; its leading "<key> " is dropped, as `p`
// names the key.
[[noreturn]] void fail_at(const Place& p, const std::invalid_argument& e) {
  std::string m = e.what();
  if (m.rfind(p.key + " ", 0) == 0) m = m.substr(p.key.size() + 1);
  p.fail(m);
}

void read_llm(EmrrgConfig& config, const toml::table& llm, const std::string& source) {
  // The dimensions of an LLM trained from scratch; num_key_value_heads defaults to
  // num_attention_heads and head_dim to hidden_size / num_attention_heads, as in config.json.
  auto dim = [](int64_t LlamaConfig::*field) {
    return [field](EmrrgConfig& c, const Place& p) { c.llm.*field = p.integer(); };
  };
  auto num = [](double LlamaConfig::*field) {
    return [field](EmrrgConfig& c, const Place& p) { c.llm.*field = p.number(); };
  };
  std::string dimension_key;
  const toml::node* dimension_node = nullptr;
  const Fields<EmrrgConfig> fields = {
      {"path", [](auto& c, const Place& p) { c.llm_path = p.string(); }},
      {"tokenizer", [](auto& c, const Place& p) { c.tokenizer_path = p.string(); }},
      {"dtype", [](auto& c, const Place& p) { c.llm_dtype = p.dtype(); }},
      {"vocab_size", dim(&LlamaConfig::vocab_size)},
      {"hidden_size", dim(&LlamaConfig::hidden_size)},
      {"num_hidden_layers", dim(&LlamaConfig::num_layers)},
      {"num_attention_heads", dim(&LlamaConfig::num_heads)},
      {"num_key_value_heads", dim(&LlamaConfig::num_kv_heads)},
      {"intermediate_size", dim(&LlamaConfig::intermediate_size)},
      {"head_dim", dim(&LlamaConfig::head_dim)},
      {"rms_norm_eps", num(&LlamaConfig::rms_norm_eps)},
      {"rope_theta", num(&LlamaConfig::rope_theta)},
      {"tie_word_embeddings", [](auto& c, const Place& p) { c.llm.tie_word_embeddings = p.boolean(); }},
  };
  config_toml::read_table(config, llm, "llm", fields, source, [&](const std::string&, const Place& p) {
    // the first dimension, for the error when a path is given too
    if (!dimension_node && p.key != "path" && p.key != "tokenizer" && p.key != "dtype") {
      dimension_key = p.key;
      dimension_node = &p.node;
    }
    return false;
  });
  if (!config.llm_path.empty()) {
    if (dimension_node)
      Place{source, "llm", dimension_key, *dimension_node}.fail("cannot be set beside path: the folder's config.json says it");
    config.llm = parse_hf_llama_config((std::filesystem::path(config.llm_path) / "config.json").string());
    return;
  }
  if (config.llm.num_kv_heads == 0) config.llm.num_kv_heads = config.llm.num_heads;
  if (config.llm.head_dim == 0 && config.llm.num_heads > 0) config.llm.head_dim = config.llm.hidden_size / config.llm.num_heads;
  try {
    config.llm.validate("[llm]");
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error("config '" + source + "': " + e.what());
  }
}

// [model]; `vision_peft_set`: whether [vision.peft] sets anything (then vision_tuning may not).
void read_model(EmrrgConfig& config, const toml::table& model, const std::string& source, bool vision_peft_set) {
  bool hybrid_layers_set = false;
  const Fields<EmrrgConfig> fields = {
      {"hybrid_layers",
       [&](auto& c, const Place& p) {
         c.hybrid_layers = p.integers();
         hybrid_layers_set = true;
       }},
      {"visual_prefix", [](auto& c, const Place& p) { c.visual_prefix = p.boolean(); }},
      {"hybrid_kv_from_self", [](auto& c, const Place& p) { c.hybrid_kv_from_self = p.boolean(); }},
      {"prompt",
       [](auto& c, const Place& p) {
         c.prompt = p.string();
         try {
           split_prompt(c.prompt);
         } catch (const std::invalid_argument& e) {
           fail_at(p, e);
         }
       }},
      {"vision_tuning",
       [&](auto& c, const Place& p) {
         if (vision_peft_set) p.fail("cannot be set beside [vision.peft]: say what of the encoder trains in one place");
         try {
           apply_vision_tuning(p.string(), c.vision.peft);
         } catch (const std::invalid_argument& e) {
           fail_at(p, e);
         }
       }},
      {"vision_lora_rank", [](auto& c, const Place& p) { c.vision.peft.rank = p.integer(); }},
      {"vision_lora_scale", [](auto& c, const Place& p) { c.vision.peft.scale = p.number(); }},
      {"vision_lora_dropout", [](auto& c, const Place& p) { c.vision.peft.dropout = p.number(); }},
      {"llm_tuning",
       [](auto& c, const Place& p) {
         try {
           c.llm_tuning = parse_llm_tuning(p.string());
         } catch (const std::invalid_argument& e) {
           fail_at(p, e);
         }
       }},
      {"llm_lora_targets", [](auto& c, const Place& p) { c.llm_lora_targets = p.strings(); }},
      {"llm_lora_rank", [](auto& c, const Place& p) { c.llm_lora.rank = p.integer(); }},
      {"llm_lora_scale", [](auto& c, const Place& p) { c.llm_lora.scale = p.number(); }},
      {"llm_lora_dropout", [](auto& c, const Place& p) { c.llm_lora.dropout = p.number(); }},
  };
  for (const char* key : {"vision_lora_rank", "vision_lora_scale", "vision_lora_dropout"})
    if (vision_peft_set && model.contains(key))
      Place{source, "model", key, *model.get(key)}.fail("cannot be set beside [vision.peft] (its rank, scale, dropout)");
  config_toml::read_table(config, model, "model", fields, source);
  if (config.llm_tuning == LlmTuning::Hybrid && !hybrid_layers_set) config.hybrid_layers = EmrrgConfig::default_hybrid_layers();
}

}  // namespace

void apply_vision_tuning(const std::string& tuning, VisionPeftConfig& peft) {
  using P = VisionPeftConfig;
  static const std::map<std::string, std::vector<bool P::*>> settings = {
      {"full", {&P::full_finetune}},
      {"frozen", {}},
      {"et_ssm", {&P::lora_p_x, &P::lora_in_proj}},
      {"lora_p_x", {&P::lora_p_x}},
      {"lora_p_z", {&P::lora_p_z}},
      {"lora_p_dt", {&P::lora_p_dt}},
      {"lora_p_b", {&P::lora_p_b}},
      {"lora_p_c", {&P::lora_p_c}},
      {"lora_in_proj", {&P::lora_in_proj}},
      {"lora_x_proj", {&P::lora_x_proj}},
      {"lora_dt_proj", {&P::lora_dt_proj}},
      {"lora_out_proj", {&P::lora_out_proj}},
      {"lora_patch_embed", {&P::lora_patch_embed}},
  };
  auto it = settings.find(tuning);
  if (it == settings.end()) {
    std::string known;
    for (const auto& [name, flags] : settings) known += (known.empty() ? "" : ", ") + name;
    throw std::invalid_argument("vision_tuning '" + tuning + "' is not one of " + known);
  }
  P flags;
  flags.rank = peft.rank;
  flags.scale = peft.scale;
  flags.dropout = peft.dropout;
  for (bool P::*flag : it->second) flags.*flag = true;
  peft = flags;
}

EmrrgConfig emrrg_config_from_toml(const toml::table& root, const std::string& source) {
  const toml::table* vision = root["vision"].as_table();
  if (vision == nullptr) throw std::runtime_error("config '" + source + "' has no [vision] table");
  const toml::table* llm = root["llm"].as_table();
  if (llm == nullptr) throw std::runtime_error("config '" + source + "' has no [llm] table");
  EmrrgConfig config;
  config.vision = vision_config_from_toml(*vision, source);
  read_llm(config, *llm, source);
  const toml::table* peft = (*vision)["peft"].as_table();
  if (const toml::node* model = root.get("model")) {
    if (!model->is_table())
      throw std::runtime_error("config '" + source + "': model must be a table");
    read_model(config, *model->as_table(), source, peft != nullptr && !peft->empty());
  }
  try {
    config.validate();
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error("config '" + source + "': [model] " + e.what());
  }
  return config;
}

EmrrgConfig load_emrrg_config(const std::string& path) { return emrrg_config_from_toml(config_toml::parse_file(path), path); }

}  // namespace emrrg::models
