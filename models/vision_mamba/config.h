// Configuration of the Vision Mamba encoders (vision_mamba.h): the architecture and the
// parameter-efficient tuning (PEFT) applied to it. The `[vision]` table of the TOML configs maps
// onto these fields one to one (kind = "vim" | "arm", image_size, patch_size, d_model, depth,
// d_state, expand, and the PEFT fields).
#pragma once
#include <cstdint>
#include <string>

#include "runtime/dtype.h"

namespace emrrg::models {

enum class VisionMambaKind {
  Vim,  // hustvl/Vim (NOTES §3): RMSNorm, "v2" mixer (forward + flipped scan), fp32 residual
  Arm,  // ARM / MambaXray-VL backbone (NOTES §4): LayerNorm, "v3" mixer (four scans), SwiGLU MLP
};

// Which adapters are attached, and what trains. Adapter settings (Table 6 of the paper; MambaPEFT):
//   lora_p_x  LoRA_p(X): in_proj output rows [0, d_inner)                  -> in_proj.lora_x
//   lora_p_z  LoRA_p(Z): in_proj output rows [d_inner, 2 d_inner)          -> in_proj.lora_z
//   lora_p_dt LoRA_p(dt): x_proj* rows [0, dt_rank)                        -> x_proj*.lora_dt
//   lora_p_b  LoRA_p(B): x_proj* rows [dt_rank, dt_rank + N)               -> x_proj*.lora_b
//   lora_p_c  LoRA_p(C): x_proj* rows [dt_rank + N, dt_rank + 2N)          -> x_proj*.lora_c
//   lora_in_proj, lora_x_proj (every x_proj*), lora_dt_proj (every dt_proj*), lora_out_proj,
//   lora_patch_embed: conventional LoRA                                   -> <linear>.lora
// (x_proj* and dt_proj* are the mixer's per-scan copies: x_proj, x_proj_b, x_proj_c, x_proj_c_b.)
// With full_finetune every parameter trains; otherwise only the adapters do and everything else is
// frozen (no adapter and no full_finetune: nothing trains).
struct VisionPeftConfig {
  bool full_finetune = false;
  bool lora_p_x = false, lora_p_z = false, lora_p_dt = false, lora_p_b = false, lora_p_c = false;
  bool lora_in_proj = false, lora_x_proj = false, lora_dt_proj = false, lora_out_proj = false;
  bool lora_patch_embed = false;
  int64_t rank = 32;
  double scale = 1.0;    // the plain factor s
  // On the rank-r activation of the in_proj, LoRA_p(X/Z), out_proj and patch-embedding adapters;
  // the x_proj and dt_proj adapters have none (MambaPEFT merges those into the weights).
  double dropout = 0.1;

  bool any_adapter() const {
    return lora_p_x || lora_p_z || lora_p_dt || lora_p_b || lora_p_c || lora_in_proj || lora_x_proj || lora_dt_proj ||
           lora_out_proj || lora_patch_embed;
  }
};

struct VisionMambaConfig {
  VisionMambaKind kind = VisionMambaKind::Vim;
  int64_t image_size = 224;  // square images; the patch grid must be square and even-sized for "arm"
  int64_t patch_size = 16;
  int64_t channels = 3;
  int64_t d_model = 192;
  int64_t depth = 24;
  int64_t d_state = 16;
  int64_t expand = 2;       // Vim 2, ARM 1
  int64_t num_classes = 0;  // > 0 adds the checkpoints' classifier `head` (classify()); 0: none
  double norm_eps = 1e-5;
  DType dtype = DType::Float32;  // of the weights; the Vim residual stream stays float32
  VisionPeftConfig peft;

  int64_t grid() const { return image_size / patch_size; }
  int64_t num_patches() const { return grid() * grid(); }
  int64_t num_tokens() const { return num_patches() + 1; }
  int64_t class_token_index() const { return num_patches() / 2; }
  // Throws std::invalid_argument naming the first bad field.
  void validate() const;

  // Published sizes (224 px, patch 16): Vim tiny/small/base (depth 24; d 192/384/768), ARM base
  // (d 768, depth 12) and large (d 1024, depth 24).
  static VisionMambaConfig vim_tiny();
  static VisionMambaConfig vim_small();
  static VisionMambaConfig vim_base();
  static VisionMambaConfig arm_base();
  static VisionMambaConfig arm_large();
};

// "vim" | "arm" (error naming the value otherwise) and back.
VisionMambaKind parse_vision_mamba_kind(const std::string& name);
std::string to_string(VisionMambaKind kind);

}  // namespace emrrg::models
