// The EMRRG network (paper §3, NOTES §7-8): a Vision Mamba encoder (Vim or ARM) runs on each view
// of a study, the views' tokens are averaged token-wise, projected to the LLM's width
// (llama_proj: Linear(D_vis, hidden), then layer_norm: LayerNorm(hidden)), and reach a Llama
// decoder as a prefix of the R2GenGPT prompt and/or through the hybrid layers' cross-attention:
//
//   [BOS] prompt-before [visual tokens, when visual_prefix] prompt-after report
//
// report = the cleaned report's tokens then EOS, right-padded; the loss is the mean NLL over the
// report tokens only. With visual_prefix and no hybrid layers this is MambaXray-VL (the baseline).
// In a hybrid layer every position of the sequence (BOS, prompt, visual prefix, report) queries
// the visual tokens; padding is a query too, but no real token attends to it.
//
// Parameter names: visual_encoder.<Vim/ARM names>, llama_proj.{weight,bias},
// layer_norm.{weight,bias}, llm.<Hugging Face names>, per hybrid layer i
// llm.model.layers.{i}.self_attn.cross_attn_{kv_proj.{weight,bias}, gate_proj.{weight,bias},
// warm_up_gate}, adapters as nn/lora.h names them (llm.model.layers.{i}.self_attn.q_proj.lora.*).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models/emrrg/emrrg_config.h"
#include "models/emrrg/hybrid_layer.h"
#include "models/llama/llama.h"
#include "models/vision_mamba/vision_mamba.h"
#include "runtime/checkpoint.h"

namespace emrrg::models {

// The prompt's halves as token ids, each tokenised on its own without special tokens
// (train/data/prompt.h's encode_prompt does it with the LLM's tokenizer).
struct PromptTokens {
  int64_t bos = 1;
  std::vector<int64_t> before, after;
};

class Emrrg : public nn::Module {
 public:
  // `llm` comes from load_hf_llama or is built from config.llm (whose fields it replaces); the
  // vision encoder is built from config.vision (load_backbone fills it). Attaches the hybrid layers
  // or the LLM's LoRA adapters and sets what trains: the encoder as config.vision.peft says, the
  // projector always, of the LLM only its adapters or hybrid parameters.
  Emrrg(const EmrrgConfig& config, std::shared_ptr<Llama> llm, PromptTokens prompt,
        Generator& gen = default_generator());

  const EmrrgConfig& config() const { return config_; }
  const PromptTokens& prompt() const { return prompt_; }
  // Tokens in front of the report: 1 + before + (visual tokens when visual_prefix) + after.
  int64_t prefix_length() const;

  // images [B, views, C, H, W] -> the projected visual tokens [B, N, hidden] (encoder per view,
  // mean over views, llama_proj, layer_norm), in the LLM's dtype.
  Tensor encode_images(const Tensor& images) const;
  // visual [B, N, hidden] -> the embeddings of the prompt in front of the report [B, prefix, hidden].
  Tensor prompt_embeds(const Tensor& visual) const;
  // report_ids int [B, T] (report tokens, EOS, padding), report_mask [B, T] (nonzero on report
  // tokens) -> the logits that predict each report token, [B, T, vocab].
  Tensor report_logits(const Tensor& images, const Tensor& report_ids, const Tensor& report_mask) const;
  // Mean NLL over the report tokens (float32 scalar).
  Tensor loss(const Tensor& images, const Tensor& report_ids, const Tensor& report_mask) const;

  // The hybrid layers attend to `visual` [B, N, hidden] until clear_visual(); the step decoder
  // keeps them set through a generation. One forward or generation at a time per model.
  void set_visual(const Tensor& visual) const;
  void clear_visual() const;
  void select_visual_rows(const std::vector<int64_t>& rows) const;

  // A Vim/ARM checkpoint (.pth or safetensors, runtime/checkpoint.h) into the encoder: every
  // encoder weight must be there; only the adapters may be missing. Errors name the file and keys.
  void load_backbone(const std::string& path, const CheckpointOptions& options = {});
  // The trainable parameters (adapters, projector, hybrid layers; everything of the encoder under
  // full fine-tuning) to a safetensors file, and back: every tensor of the file must be a
  // parameter of this model with its shape (Module::load reads a whole-model file).
  void save_trainable(const std::string& path) const;
  void load_trainable(const std::string& path);

  std::shared_ptr<VisionMamba> visual_encoder;
  std::shared_ptr<nn::Linear> llama_proj;
  std::shared_ptr<nn::LayerNorm> layer_norm;
  std::shared_ptr<Llama> llm;
  std::vector<std::shared_ptr<HybridCrossAttention>> hybrid_layers;

 private:
  void attach_llm_lora(Generator& gen);
  void apply_freezing();

  EmrrgConfig config_;
  PromptTokens prompt_;
};

// The LLM from config.llm_path (a Hugging Face folder; config.llm is then ignored) or, with no
// path, a random one of config.llm's shape, then the network around it.
std::unique_ptr<Emrrg> build_emrrg(const EmrrgConfig& config, PromptTokens prompt, Generator& gen = default_generator());

}  // namespace emrrg::models
