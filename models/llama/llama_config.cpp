#include "models/llama/llama_config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace emrrg::models {

void LlamaConfig::validate(const std::string& source) const {
  auto bad = [&](const std::string& what) { throw std::invalid_argument(source + ": " + what); };
  auto positive = [&](int64_t v, const char* name) {
    if (v <= 0) bad(std::string(name) + " must be positive, got " + std::to_string(v));
  };
  positive(vocab_size, "vocab_size");
  positive(hidden_size, "hidden_size");
  positive(intermediate_size, "intermediate_size");
  positive(num_layers, "num_hidden_layers");
  positive(num_heads, "num_attention_heads");
  positive(num_kv_heads, "num_key_value_heads");
  positive(head_dim, "head_dim");
  if (num_heads % num_kv_heads != 0)
    bad("num_attention_heads " + std::to_string(num_heads) + " is not a multiple of num_key_value_heads " +
        std::to_string(num_kv_heads));
  if (head_dim % 2 != 0) bad("head_dim " + std::to_string(head_dim) + " is odd (RoPE rotates pairs)");
  if (!(rms_norm_eps > 0)) bad("rms_norm_eps must be positive");
  if (!(rope_theta > 0)) bad("rope_theta must be positive");
}

namespace {

using nlohmann::json;

[[noreturn]] void config_error(const std::string& path, const std::string& what) {
  throw std::runtime_error("'" + path + "': " + what);
}

int64_t get_int(const json& j, const std::string& path, const char* key) {
  if (!j.contains(key)) config_error(path, std::string("missing field '") + key + "'");
  if (!j[key].is_number_integer()) config_error(path, std::string("field '") + key + "' is not an integer: " + j[key].dump());
  return j[key].get<int64_t>();
}

int64_t get_int_or(const json& j, const std::string& path, const char* key, int64_t fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  // eos_token_id may be a list; the first id is the one generation stops at by default.
  if (j[key].is_array() && !j[key].empty() && j[key][0].is_number_integer()) return j[key][0].get<int64_t>();
  return get_int(j, path, key);
}

double get_number_or(const json& j, const std::string& path, const char* key, double fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_number()) config_error(path, std::string("field '") + key + "' is not a number: " + j[key].dump());
  return j[key].get<double>();
}

std::string get_string_or(const json& j, const std::string& path, const char* key, const std::string& fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_string()) config_error(path, std::string("field '") + key + "' is not a string: " + j[key].dump());
  return j[key].get<std::string>();
}

bool get_bool_or(const json& j, const std::string& path, const char* key, bool fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_boolean()) config_error(path, std::string("field '") + key + "' is not a boolean: " + j[key].dump());
  return j[key].get<bool>();
}

}  // namespace

LlamaConfig parse_hf_llama_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) config_error(path, "cannot open");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    config_error(path, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) config_error(path, "not a JSON object");
  std::string arch;
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string())
    arch = j["architectures"][0].get<std::string>();
  const bool qwen = arch == "Qwen2ForCausalLM";
  if (arch != "LlamaForCausalLM" && !qwen)
    config_error(path, "architectures[0] is '" + arch + "'; LlamaForCausalLM or Qwen2ForCausalLM is supported");
  if (get_string_or(j, path, "hidden_act", "silu") != "silu")
    config_error(path, "hidden_act '" + j["hidden_act"].dump() + "' is not silu");
  if (get_bool_or(j, path, "use_sliding_window", false)) config_error(path, "use_sliding_window is not supported");

  LlamaConfig c;
  c.vocab_size = get_int(j, path, "vocab_size");
  c.hidden_size = get_int(j, path, "hidden_size");
  c.intermediate_size = get_int(j, path, "intermediate_size");
  c.num_layers = get_int(j, path, "num_hidden_layers");
  c.num_heads = get_int(j, path, "num_attention_heads");
  c.num_kv_heads = get_int_or(j, path, "num_key_value_heads", c.num_heads);
  c.head_dim = c.num_heads > 0 ? get_int_or(j, path, "head_dim", c.hidden_size / c.num_heads) : 0;
  c.max_position_embeddings = get_int_or(j, path, "max_position_embeddings", c.max_position_embeddings);
  c.rms_norm_eps = get_number_or(j, path, "rms_norm_eps", qwen ? 1e-6 : 1e-5);
  c.rope_theta = get_number_or(j, path, "rope_theta", qwen ? 1e6 : 1e4);
  for (const char* key : {"rope_parameters", "rope_scaling"}) {
    if (!j.contains(key) || j[key].is_null()) continue;
    const json& rope = j[key];
    if (!rope.is_object()) config_error(path, std::string("field '") + key + "' is not an object");
    const std::string type = get_string_or(rope, path, "rope_type", get_string_or(rope, path, "type", "default"));
    if (type != "default") config_error(path, std::string(key) + ".rope_type '" + type + "' is not supported");
    c.rope_theta = get_number_or(rope, path, "rope_theta", c.rope_theta);
  }
  c.tie_word_embeddings = get_bool_or(j, path, "tie_word_embeddings", false);
  if (qwen) {
    c.qkv_bias = true;
  } else {
    c.qkv_bias = c.o_bias = get_bool_or(j, path, "attention_bias", false);
    c.mlp_bias = get_bool_or(j, path, "mlp_bias", false);
  }
  c.bos_token_id = get_int_or(j, path, "bos_token_id", qwen ? -1 : 1);
  c.eos_token_id = get_int_or(j, path, "eos_token_id", qwen ? 151643 : 2);
  c.pad_token_id = get_int_or(j, path, "pad_token_id", -1);
  c.bos_starts_prompts = !qwen && c.bos_token_id >= 0;
  try {
    c.validate("'" + path + "'");
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
  return c;
}

}  // namespace emrrg::models
