// The tiny EMRRG of tests/golden/make_emrrg_golden.py, shared by the CPU model tests and the
// simulated-GPU test.
#pragma once
#include "models/emrrg/emrrg.h"

namespace emrrg {

// The script's tiny EMRRG: an ARM encoder (16 px, patch 8, width 16, one layer) with LoRA_p(X) and
// in_proj LoRA, a 3-layer Llama (hidden 16, 4 heads over 2 kv heads), hybrid layers at [0, 2].
inline models::EmrrgConfig tiny_emrrg_config(bool prefix, bool hybrid, bool lora) {
  models::EmrrgConfig c;
  models::VisionMambaConfig& v = c.vision;
  v.kind = models::VisionMambaKind::Arm;
  v.image_size = 16;
  v.patch_size = 8;
  v.d_model = 16;
  v.depth = 1;
  v.d_state = 4;
  v.expand = 1;
  v.peft.lora_p_x = true;
  v.peft.lora_in_proj = true;
  v.peft.rank = 2;
  v.peft.scale = 0.5;
  v.peft.dropout = 0.0;
  models::LlamaConfig& l = c.llm;
  l.vocab_size = 32;
  l.hidden_size = 16;
  l.intermediate_size = 24;
  l.num_layers = 3;
  l.num_heads = 4;
  l.num_kv_heads = 2;
  l.head_dim = 4;
  c.visual_prefix = prefix;
  if (hybrid) c.hybrid_layers = {0, 2};
  c.llm_tuning = hybrid ? models::LlmTuning::Hybrid : lora ? models::LlmTuning::Lora : models::LlmTuning::Frozen;
  c.llm_lora_targets = {"q_proj", "v_proj"};
  c.llm_lora = {2, 0.5, 0.0};
  return c;
}

}  // namespace emrrg
