// Parameter counts of an EMRRG configuration, computed from the config alone (no weights are
// allocated, so a Llama-2-7B configuration costs nothing), and the same split read off a built
// model, to cross-check the two.
#pragma once
#include <cstdint>
#include <string>

#include "models/emrrg/emrrg.h"

namespace emrrg::models {

struct EmrrgParameterCount {
  int64_t vision = 0;           // the encoder's own weights (patch embed ... norm_f, head)
  int64_t vision_adapters = 0;  // its LoRA / Partial LoRA adapters
  int64_t vision_trainable = 0; // adapters, or everything under full fine-tuning
  int64_t projector = 0;        // llama_proj + layer_norm (always trained)
  int64_t llm = 0;              // the LLM's own weights (always frozen)
  int64_t llm_lora = 0;         // LoRA adapters on the LLM's projections
  int64_t hybrid = 0;           // cross_attn_kv_proj, cross_attn_gate_proj, cross_attn_warm_up_gate

  int64_t total() const { return vision + vision_adapters + projector + llm + llm_lora + hybrid; }
  int64_t trainable() const { return vision_trainable + projector + llm_lora + hybrid; }
  bool operator==(const EmrrgParameterCount&) const = default;
};

EmrrgParameterCount count_parameters(const EmrrgConfig& config);
// The split of `model`'s parameters by name (what trains: requires_grad).
EmrrgParameterCount count_parameters(const Emrrg& model);
// One line per field, in millions.
std::string to_string(const EmrrgParameterCount& count);

}  // namespace emrrg::models
