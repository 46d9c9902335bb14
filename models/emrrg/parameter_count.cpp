#include "models/emrrg/parameter_count.h"

#include <algorithm>
#include <cstdio>

namespace emrrg::models {
namespace {

int64_t linear(int64_t in, int64_t out, bool bias) { return in * out + (bias ? out : 0); }
int64_t lora(int64_t in, int64_t rows, int64_t rank) { return rank * in + rows * rank; }

// The encoder as models/vision_mamba builds it: mixers with expand * d_model inner channels,
// dt_rank ceil(d/16), a width-4 causal conv with bias, no in/out_proj bias; two scans (Vim) or four
// (ARM); ARM blocks add two LayerNorms and a SwiGLU MLP of hidden d*8/3 with biases.
void count_vision(const VisionMambaConfig& c, EmrrgParameterCount& n) {
  const int64_t D = c.d_model, di = c.expand * D, R = (D + 15) / 16, N = c.d_state, r = c.peft.rank;
  const int64_t scans = c.kind == VisionMambaKind::Vim ? 2 : 4;
  const int64_t per_scan = di * 4 + di + linear(di, R + 2 * N, false) + linear(R, di, true) + di * N + di;
  int64_t block = linear(D, 2 * di, false) + scans * per_scan + linear(di, D, false);
  if (c.kind == VisionMambaKind::Vim) {
    block += D;
  } else {
    const int64_t hidden = D * 8 / 3;
    block += 4 * D + 2 * linear(D, hidden, true) + linear(hidden, D, true);
  }
  const int64_t patch = c.channels * c.patch_size * c.patch_size;
  n.vision = linear(patch, D, true) + D + c.num_tokens() * D + c.depth * block +
             (c.kind == VisionMambaKind::Vim ? D : 2 * D) + (c.num_classes > 0 ? linear(D, c.num_classes, true) : 0);

  const VisionPeftConfig& p = c.peft;
  int64_t per_block = 0;
  if (p.lora_in_proj) per_block += lora(D, 2 * di, r);
  if (p.lora_p_x) per_block += lora(D, di, r);
  if (p.lora_p_z) per_block += lora(D, di, r);
  if (p.lora_x_proj) per_block += scans * lora(di, R + 2 * N, r);
  if (p.lora_p_dt) per_block += scans * lora(di, R, r);
  if (p.lora_p_b) per_block += scans * lora(di, N, r);
  if (p.lora_p_c) per_block += scans * lora(di, N, r);
  if (p.lora_dt_proj) per_block += scans * lora(R, di, r);
  if (p.lora_out_proj) per_block += lora(di, D, r);
  n.vision_adapters = c.depth * per_block + (p.lora_patch_embed ? lora(patch, D, r) : 0);
  n.vision_trainable = p.full_finetune ? n.vision + n.vision_adapters : n.vision_adapters;
}

bool is_target(const EmrrgConfig& c, const char* name) {
  return c.llm_tuning == LlmTuning::Lora &&
         std::find(c.llm_lora_targets.begin(), c.llm_lora_targets.end(), name) != c.llm_lora_targets.end();
}

}  // namespace

EmrrgParameterCount count_parameters(const EmrrgConfig& c) {
  EmrrgParameterCount n;
  count_vision(c.vision, n);
  const LlamaConfig& l = c.llm;
  const int64_t H = l.hidden_size, q = l.num_heads * l.head_dim, kv = l.num_kv_heads * l.head_dim, I = l.intermediate_size;
  n.projector = linear(c.vision.d_model, H, true) + 2 * H;
  const int64_t layer = linear(H, q, l.qkv_bias) + 2 * linear(H, kv, l.qkv_bias) + linear(q, H, l.o_bias) +
                        2 * linear(H, I, l.mlp_bias) + linear(I, H, l.mlp_bias) + 2 * H;
  n.llm = l.vocab_size * H + l.num_layers * layer + H + (l.tie_word_embeddings ? 0 : l.vocab_size * H);
  const int64_t r = c.llm_lora.rank;
  const struct { const char* name; int64_t in, out; } projections[] = {
      {"q_proj", H, q}, {"k_proj", H, kv}, {"v_proj", H, kv}, {"o_proj", q, H},
      {"gate_proj", H, I}, {"up_proj", H, I}, {"down_proj", I, H}};
  for (const auto& p : projections)
    if (is_target(c, p.name)) n.llm_lora += l.num_layers * lora(p.in, p.out, r);
  n.hybrid = static_cast<int64_t>(c.hybrid_layers.size()) * (linear(H, 2 * kv, true) + linear(q, 1, true) + 1);
  return n;
}

EmrrgParameterCount count_parameters(const Emrrg& model) {
  EmrrgParameterCount n;
  for (const auto& [name, t] : model.named_parameters()) {
    const int64_t k = t.numel();
    if (name.rfind("visual_encoder.", 0) == 0) {
      (name.find(".lora") != std::string::npos ? n.vision_adapters : n.vision) += k;
      if (t.requires_grad()) n.vision_trainable += k;
    } else if (name.rfind("llama_proj.", 0) == 0 || name.rfind("layer_norm.", 0) == 0) {
      n.projector += k;
    } else if (name.find(".cross_attn_") != std::string::npos) {
      n.hybrid += k;
    } else if (name.find(".lora.") != std::string::npos) {
      n.llm_lora += k;
    } else {
      n.llm += k;
    }
  }
  return n;
}

std::string to_string(const EmrrgParameterCount& n) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "vision %.2f M (+ adapters %.2f M, trainable %.2f M), projector %.2f M, LLM %.2f M (+ LoRA %.2f M), "
                "hybrid layers %.2f M; total %.2f M, trainable %.2f M",
                n.vision / 1e6, n.vision_adapters / 1e6, n.vision_trainable / 1e6, n.projector / 1e6, n.llm / 1e6,
                n.llm_lora / 1e6, n.hybrid / 1e6, n.total() / 1e6, n.trainable() / 1e6);
  return buf;
}

}  // namespace emrrg::models
