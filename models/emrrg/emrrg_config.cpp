#include "models/emrrg/emrrg_config.h"

#include <algorithm>
#include <stdexcept>

namespace emrrg::models {

LlmTuning parse_llm_tuning(const std::string& name) {
  if (name == "frozen") return LlmTuning::Frozen;
  if (name == "lora") return LlmTuning::Lora;
  if (name == "hybrid") return LlmTuning::Hybrid;
  throw std::invalid_argument("llm_tuning '" + name + "' is not \"frozen\", \"lora\" or \"hybrid\"");
}

std::string to_string(LlmTuning tuning) {
  switch (tuning) {
    case LlmTuning::Frozen: return "frozen";
    case LlmTuning::Lora: return "lora";
    case LlmTuning::Hybrid: return "hybrid";
  }
  return "?";
}

std::pair<std::string, std::string> split_prompt(const std::string& prompt) {
  const std::string mark = kImagePlaceholder;
  const size_t at = prompt.find(mark);
  if (at == std::string::npos || prompt.find(mark, at + 1) != std::string::npos)
    throw std::invalid_argument("prompt '" + prompt + "' must contain " + mark + " exactly once");
  return {prompt.substr(0, at), prompt.substr(at + mark.size())};
}

void EmrrgConfig::validate() const {
  vision.validate();
  llm.validate("EmrrgConfig.llm");
  split_prompt(prompt);
  for (size_t i = 0; i < hybrid_layers.size(); ++i) {
    const int64_t l = hybrid_layers[i];
    if (l < 0 || l >= llm.num_layers)
      throw std::invalid_argument("hybrid_layers: layer " + std::to_string(l) + " is not in [0, " +
                                  std::to_string(llm.num_layers) + ")");
    if (std::count(hybrid_layers.begin(), hybrid_layers.end(), l) > 1)
      throw std::invalid_argument("hybrid_layers: layer " + std::to_string(l) + " is listed twice");
  }
  if ((llm_tuning == LlmTuning::Hybrid) != !hybrid_layers.empty())
    throw std::invalid_argument(llm_tuning == LlmTuning::Hybrid ? "llm_tuning \"hybrid\" needs hybrid_layers"
                                                                : "hybrid_layers need llm_tuning \"hybrid\"");
  if (!visual_prefix && hybrid_layers.empty())
    throw std::invalid_argument("visual_prefix = false needs hybrid layers: the image would not reach the LLM");
  static const std::vector<std::string> known = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  if (llm_tuning == LlmTuning::Lora) {
    if (llm_lora_targets.empty()) throw std::invalid_argument("llm_lora_targets: empty with llm_tuning \"lora\"");
    if (llm_lora.rank <= 0) throw std::invalid_argument("llm_lora_rank must be positive");
    if (!(llm_lora.dropout >= 0 && llm_lora.dropout < 1)) throw std::invalid_argument("llm_lora_dropout must be in [0, 1)");
  }
  for (const auto& t : llm_lora_targets)
    if (std::find(known.begin(), known.end(), t) == known.end())
      throw std::invalid_argument("llm_lora_targets: '" + t + "' is not one of q_proj, k_proj, v_proj, o_proj, "
                                  "gate_proj, up_proj, down_proj");
}

}  // namespace emrrg::models
