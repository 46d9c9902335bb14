// What an EMRRG network is (paper §3, NOTES §1, §7, §8): the vision encoder, the LLM, where the
// hybrid layers sit, whether the visual tokens are also a prefix of the prompt, and what trains.
// The TOML tables [vision], [llm] and [model] map onto it (emrrg_config_toml.h, docs/CONFIG.md).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "models/llama/llama_config.h"
#include "models/vision_mamba/config.h"
#include "nn/lora.h"

namespace emrrg::models {

// What of the LLM trains (the LLM columns of the paper's Table 5): nothing (L2), LoRA adapters on
// its projections (L2+LoRA), or the new parameters of the hybrid layers (L2+HDL). The LLM's own
// weights are frozen in all three.
enum class LlmTuning { Frozen, Lora, Hybrid };

LlmTuning parse_llm_tuning(const std::string& name);  // "frozen" | "lora" | "hybrid"
std::string to_string(LlmTuning tuning);

// The R2GenGPT prompt; the visual tokens go where kImagePlaceholder stands.
inline constexpr const char* kImagePlaceholder = "<ImageHere>";
inline constexpr const char* kDefaultPrompt =
    "Human: <Img><ImageHere></Img> Generate a comprehensive and detailed diagnosis report for this chest xray "
    "image. \nAssistant:";
// The text before and after the one placeholder of `prompt` (error naming the prompt otherwise).
std::pair<std::string, std::string> split_prompt(const std::string& prompt);

struct EmrrgConfig {
  VisionMambaConfig vision;  // its peft field says what of the encoder trains (Table 6)
  LlamaConfig llm;           // for an LLM trained from scratch; replaced by the folder's when llm_path is set
  std::string llm_path;      // a Hugging Face folder, or empty
  std::string tokenizer_path;  // empty: the LLM folder's tokenizer.model
  // Of the LLM, the projector and the hybrid layers; unset: the checkpoint's (float32 from scratch).
  std::optional<DType> llm_dtype;

  // Decoder layers that become hybrid layers; non-empty exactly when llm_tuning is Hybrid.
  std::vector<int64_t> hybrid_layers;
  // cross_attn_kv_proj starts as the layer's own k_proj and v_proj (NOTES §7's option) instead of
  // PyTorch's random Linear init.
  bool hybrid_kv_from_self = false;
  // The visual tokens as a prefix between the prompt's two halves (MambaXray-VL / R2GenGPT);
  // with no hybrid layers this is the only way the image reaches the LLM.
  bool visual_prefix = true;
  std::string prompt = kDefaultPrompt;

  LlmTuning llm_tuning = LlmTuning::Frozen;
  // LoRA on the LLM (llm_tuning Lora): which projections of every layer (q_proj, k_proj, v_proj,
  // o_proj, gate_proj, up_proj, down_proj) and the adapters' rank, plain scale and dropout.
  // Defaults: R2GenGPT's (q_proj and v_proj, r 16, alpha 16 so the scale is 1, dropout 0.1).
  std::vector<std::string> llm_lora_targets = {"q_proj", "v_proj"};
  nn::LoraOptions llm_lora{16, 1.0, 0.1};

  static std::vector<int64_t> default_hybrid_layers() { return {0, 8, 16, 24}; }
  // Throws std::invalid_argument naming the field: a hybrid layer outside the LLM or repeated,
  // hybrid layers without Hybrid tuning or the reverse, no path from the image to the LLM, an
  // unknown LoRA target, a prompt without exactly one placeholder.
  void validate() const;
};

}  // namespace emrrg::models
