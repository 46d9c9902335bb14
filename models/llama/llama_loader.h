// Loading Llama-family checkpoints: a Hugging Face model folder (config.json + model.safetensors
// or a sharded model.safetensors.index.json) or a llama2.c .bin checkpoint.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "models/llama/llama.h"

namespace emrrg::models {

// A Hugging Face folder of a LlamaForCausalLM or Qwen2ForCausalLM. The safetensors files are
// memory-mapped; parameters whose dtype is the checkpoint's become views of the mapping (no copy,
// no second buffer in RAM), others are converted. `dtype` defaults to the dtype of
// model.embed_tokens.weight in the checkpoint. Throws std::runtime_error naming the file and the
// tensor for a missing, unexpected, mis-shaped or truncated tensor, or a shard the index names
// that is absent.
std::unique_ptr<Llama> load_hf_llama(const std::string& folder, std::optional<DType> dtype = std::nullopt);

// A llama2.c checkpoint (fp32): the legacy header (7 int32: dim, hidden_dim, n_layers, n_heads,
// n_kv_heads, vocab_size — negative when the classifier is not shared — and seq_len) or the v1
// header (magic "ak42", version 1, the same 7 int32, a shared-classifier byte, padded to 256
// bytes). llama2.c rotates adjacent pairs, so the model uses RotaryPairing::Interleaved and the
// q/k weights are taken as stored. Throws std::runtime_error naming the file (and, when the
// file is short, the tensor that does not fit).
std::unique_ptr<Llama> load_llama2c(const std::string& path);

// A folder (Hugging Face) or a file (llama2.c).
std::unique_ptr<Llama> load_llama(const std::string& path, std::optional<DType> dtype = std::nullopt);

}  // namespace emrrg::models
