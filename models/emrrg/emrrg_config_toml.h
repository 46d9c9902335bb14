// The [vision], [llm] and [model] tables of a TOML config -> EmrrgConfig (docs/CONFIG.md lists
// every key). [vision] is read by vision_mamba/vision_config_toml.h; other top-level tables
// ([train], [data], ...) are left to their readers.
//
//   [llm]
//   path = "models/Llama-2-7b-chat-hf"   # a Hugging Face folder, or the dimensions inline:
//   # vocab_size, hidden_size, num_hidden_layers, num_attention_heads, num_key_value_heads,
//   # intermediate_size, head_dim (integers), rms_norm_eps, rope_theta (numbers),
//   # tie_word_embeddings (boolean)
//   tokenizer = "tokenizer.model"         # default: the folder's tokenizer.model
//   dtype = "bfloat16"
//
//   [model]
//   llm_tuning = "hybrid"                 # "frozen" | "lora" | "hybrid"
//   hybrid_layers = [0, 8, 16, 24]        # the default with "hybrid"
//   visual_prefix = true
//   vision_tuning = "et_ssm"              # or [vision.peft]; see docs/CONFIG.md
//
// An unknown key, a value of the wrong type or an inconsistent config is an error naming the file,
// the line and the key.
#pragma once
#include <string>
#include <toml++/toml.h>

#include "models/emrrg/emrrg_config.h"

namespace emrrg::models {

// `root` is the whole file; `source` names it in errors. With [llm] path, the folder's
// config.json is read for the LLM's dimensions.
EmrrgConfig emrrg_config_from_toml(const toml::table& root, const std::string& source);
EmrrgConfig load_emrrg_config(const std::string& path);

// "full" | "frozen" | "et_ssm" (LoRA_p(X) + in_proj LoRA, the paper's) | "lora_p_x" | "lora_p_z" |
// "lora_p_dt" | "lora_p_b" | "lora_p_c" | "lora_in_proj" | "lora_x_proj" | "lora_dt_proj" |
// "lora_out_proj" | "lora_patch_embed" -> the PEFT flags (rank, scale, dropout untouched).
// Throws std::invalid_argument naming the value.
void apply_vision_tuning(const std::string& tuning, VisionPeftConfig& peft);

}  // namespace emrrg::models
