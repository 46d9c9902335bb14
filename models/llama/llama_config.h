// The shape and numerics of a Llama-family decoder: Llama 2 and Qwen1.5/Qwen2 differ only in
// these fields (biases, tying, rope theta, norm epsilon, RoPE pairing).
#pragma once
#include <cstdint>
#include <string>

#include "ops/rotary.h"

namespace emrrg::models {

struct LlamaConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;  // hidden_size / num_heads unless the config says otherwise
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  // Hugging Face checkpoints rotate halves; llama2.c's (Meta's layout) rotate adjacent pairs.
  RotaryPairing rope_pairing = RotaryPairing::HalfSplit;
  bool tie_word_embeddings = false;  // lm_head reuses model.embed_tokens.weight
  bool qkv_bias = false;             // Qwen2: q/k/v projections have biases
  bool o_bias = false;               // Llama's attention_bias: o_proj too
  bool mlp_bias = false;
  int64_t bos_token_id = 1;
  int64_t eos_token_id = 2;
  int64_t pad_token_id = -1;  // -1: none
  // Whether an encoded text prompt starts with BOS: Llama's SentencePiece tokenizers add it,
  // Qwen's byte-level BPE does not (its config names a bos_token_id all the same).
  bool bos_starts_prompts = true;

  // Throws std::invalid_argument naming the field when the numbers cannot describe a model
  // (non-positive sizes, heads not dividing the hidden size or each other, odd head_dim).
  void validate(const std::string& source) const;
};

// Parses a Hugging Face config.json of a LlamaForCausalLM or Qwen2ForCausalLM (rope_theta at the
// top level, as older files have it, or in rope_parameters). Throws std::runtime_error naming the
// file and the field when it is missing, malformed or asks for something not implemented
// (rope scaling, sliding windows, another architecture).
LlamaConfig parse_hf_llama_config(const std::string& path);

}  // namespace emrrg::models
