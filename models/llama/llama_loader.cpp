#include "models/llama/llama_loader.h"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "runtime/safetensors.h"

namespace emrrg::models {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void load_error(const std::string& path, const std::string& what) {
  throw std::runtime_error("'" + path + "': " + what);
}

// Which file holds each tensor: the shard index's weight_map, or every tensor of the single file.
std::map<std::string, std::string> tensor_files(const std::string& folder) {
  const fs::path single = fs::path(folder) / "model.safetensors";
  const fs::path index = fs::path(folder) / "model.safetensors.index.json";
  std::map<std::string, std::string> where;
  if (fs::exists(index)) {
    std::ifstream in(index);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      load_error(index.string(), std::string("not valid JSON: ") + e.what());
    }
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
      load_error(index.string(), "no weight_map object");
    for (const auto& [name, file] : j["weight_map"].items()) {
      if (!file.is_string()) load_error(index.string(), "weight_map['" + name + "'] is not a file name");
      const fs::path shard = fs::path(folder) / file.get<std::string>();
      if (!fs::exists(shard)) load_error(index.string(), "shard '" + shard.string() + "' of tensor '" + name + "' is missing");
      where[name] = shard.string();
    }
  } else if (fs::exists(single)) {
    for (const auto& name : SafetensorsFile::open(single.string()).names()) where[name] = single.string();
  } else {
    load_error(folder, "neither model.safetensors nor model.safetensors.index.json is there");
  }
  return where;
}

// Makes `param` use `value`'s storage when dtype and shape agree (a view of the mapped file),
// else copies with conversion.
void adopt(const Tensor& param, const Tensor& value) {
  if (param.dtype() == value.dtype() && param.device() == value.device() && value.is_contiguous()) {
    TensorImpl* impl = param.impl();
    impl->storage = value.storage();
    impl->strides = value.strides();
    impl->offset = value.offset();
  } else {
    copy_into(param, value);
  }
}

}  // namespace

std::unique_ptr<Llama> load_hf_llama(const std::string& folder, std::optional<DType> dtype) {
  const LlamaConfig config = parse_hf_llama_config((fs::path(folder) / "config.json").string());
  const std::map<std::string, std::string> where = tensor_files(folder);
  std::map<std::string, SafetensorsFile> files;
  for (const auto& [name, file] : where)
    if (!files.count(file)) files.emplace(file, SafetensorsFile::open(file));
  auto file_of = [&](const std::string& name) -> const SafetensorsFile& {
    const SafetensorsFile& f = files.at(where.at(name));
    if (!f.contains(name)) load_error(f.path(), "has no tensor '" + name + "' (the shard index puts it there)");
    return f;
  };
  const std::string embed_name = "model.embed_tokens.weight";
  if (!where.count(embed_name)) load_error(folder, "no tensor '" + embed_name + "' in the checkpoint");
  auto model = std::make_unique<Llama>(config, dtype.value_or(file_of(embed_name).entry(embed_name).dtype),
                                       nn::Uninitialized{});
  std::set<std::string> used;
  for (const auto& [name, param] : model->named_parameters()) {
    if (!where.count(name)) load_error(folder, "tensor '" + name + "' is missing from the checkpoint");
    const SafetensorsFile& f = file_of(name);
    const SafetensorsEntry& e = f.entry(name);
    if (e.shape != param.shape())
      load_error(f.path(), "tensor '" + name + "' has shape " + shape_str(e.shape) + ", config.json needs " +
                               shape_str(param.shape()));
    if (!is_floating(e.dtype)) load_error(f.path(), "tensor '" + name + "' is " + dtype_name(e.dtype) + ", not floating");
    adopt(param, f.get(name));
    used.insert(name);
  }
  for (const auto& [name, file] : where) {
    // A tied lm_head may be stored anyway; rotary tables are recomputed.
    const bool ignorable = (name == "lm_head.weight" && config.tie_word_embeddings) ||
                           name.find("rotary_emb.inv_freq") != std::string::npos;
    if (!used.count(name) && !ignorable) load_error(file, "unexpected tensor '" + name + "' (not a parameter of the model)");
  }
  return model;
}

namespace {

constexpr uint32_t kLlama2cMagic = 0x616b3432;  // "ak42" read as a little-endian uint32

struct Llama2cHeader {
  LlamaConfig config;
  int64_t seq_len = 0;
  bool shared_classifier = true;
  int64_t data_offset = 0;
  int version = 0;
};

Llama2cHeader read_llama2c_header(const std::string& path, std::ifstream& in, uint64_t file_size) {
  auto read = [&](void* dst, size_t n, const char* what) {
    in.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
    if (!in) load_error(path, std::string("truncated header (") + what + ")");
  };
  Llama2cHeader h;
  uint32_t first = 0;
  read(&first, 4, "magic or dim");
  int32_t p[7];
  if (first == kLlama2cMagic) {
    int32_t version = 0;
    read(&version, 4, "version");
    if (version != 1)
      load_error(path, "llama2.c checkpoint version " + std::to_string(version) + " is not supported (only 1, fp32)");
    read(p, sizeof p, "config");
    uint8_t shared = 0;
    read(&shared, 1, "shared_classifier");
    if (shared > 1) load_error(path, "shared_classifier byte is " + std::to_string(shared));
    h.shared_classifier = shared == 1;
    h.data_offset = 256;
    h.version = 1;
  } else {
    std::memcpy(&p[0], &first, 4);
    read(p + 1, sizeof p - 4, "config");
    h.shared_classifier = p[5] > 0;
    if (p[5] < 0 && p[5] != INT32_MIN) p[5] = -p[5];  // INT32_MIN has no negation and fails below
    h.data_offset = 7 * 4;
  }
  if (static_cast<uint64_t>(h.data_offset) > file_size) load_error(path, "truncated header");
  const char* names[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
  for (int i = 0; i < 7; ++i)
    if (p[i] <= 0) load_error(path, std::string("header field ") + names[i] + " is " + std::to_string(p[i]));
  LlamaConfig& c = h.config;
  c.hidden_size = p[0];
  c.intermediate_size = p[1];
  c.num_layers = p[2];
  c.num_heads = p[3];
  c.num_kv_heads = p[4];
  c.vocab_size = p[5];
  h.seq_len = p[6];
  c.max_position_embeddings = p[6];
  // Each layer holds nine tensors of at least one float: a bound to check before the layout
  // lists them, so a header claiming 2^31 layers is refused without a list of 2^31 names.
  if (static_cast<uint64_t>(c.num_layers) > file_size / 36)
    load_error(path, "n_layers " + std::to_string(p[2]) + " cannot fit in a file of " + std::to_string(file_size) +
                         " bytes");
  if (c.hidden_size % c.num_heads != 0)
    load_error(path, "dim " + std::to_string(p[0]) + " is not a multiple of n_heads " + std::to_string(p[3]));
  c.head_dim = c.hidden_size / c.num_heads;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.rope_pairing = RotaryPairing::Interleaved;
  c.tie_word_embeddings = h.shared_classifier;
  c.bos_token_id = 1;
  c.eos_token_id = 2;
  try {
    c.validate("'" + path + "'");
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
  return h;
}

// The tensors of a llama2.c file in file order with their element counts, computed from the
// header alone so that the file size is checked before anything is allocated; an empty name is
// data to skip (the legacy format's RoPE tables). Counts are 128-bit: a hostile header's
// products of int32 fields overflow 64 bits.
struct Llama2cTensor {
  std::string name;
  unsigned __int128 numel = 0;
};

std::vector<Llama2cTensor> llama2c_layout(const Llama2cHeader& h) {
  const LlamaConfig& c = h.config;
  using u128 = unsigned __int128;
  const u128 dim = static_cast<u128>(c.hidden_size), hidden = static_cast<u128>(c.intermediate_size);
  const u128 kv_dim = static_cast<u128>(c.num_kv_heads) * static_cast<u128>(c.head_dim);
  const u128 vocab = static_cast<u128>(c.vocab_size);
  std::vector<Llama2cTensor> out;
  auto per_layer = [&](const std::string& suffix, u128 numel) {
    for (int64_t l = 0; l < c.num_layers; ++l) out.push_back({"model.layers." + std::to_string(l) + "." + suffix, numel});
  };
  if (h.version == 1) {
    per_layer("input_layernorm.weight", dim);
    per_layer("post_attention_layernorm.weight", dim);
    out.push_back({"model.norm.weight", dim});
    out.push_back({"model.embed_tokens.weight", vocab * dim});
  } else {
    out.push_back({"model.embed_tokens.weight", vocab * dim});
    per_layer("input_layernorm.weight", dim);
  }
  per_layer("self_attn.q_proj.weight", dim * dim);
  per_layer("self_attn.k_proj.weight", kv_dim * dim);
  per_layer("self_attn.v_proj.weight", kv_dim * dim);
  per_layer("self_attn.o_proj.weight", dim * dim);
  if (h.version == 0) per_layer("post_attention_layernorm.weight", dim);
  // llama2.c's w1, w2, w3 are gate, down and up.
  per_layer("mlp.gate_proj.weight", hidden * dim);
  per_layer("mlp.down_proj.weight", dim * hidden);
  per_layer("mlp.up_proj.weight", hidden * dim);
  if (h.version == 0) {
    out.push_back({"model.norm.weight", dim});
    // freq_cis_real and freq_cis_imag, [seq_len, head_dim / 2] each
    out.push_back({"", static_cast<u128>(h.seq_len) * static_cast<u128>(c.head_dim)});
  }
  if (!h.shared_classifier) out.push_back({"lm_head.weight", vocab * dim});
  return out;
}

std::string u128_str(unsigned __int128 v) {
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  } while (v != 0);
  return digits;
}

}  // namespace

std::unique_ptr<Llama> load_llama2c(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) load_error(path, "cannot open");
  std::error_code ec;
  const uint64_t file_size = fs::file_size(path, ec);
  if (ec) load_error(path, "cannot read its size: " + ec.message());
  const Llama2cHeader h = read_llama2c_header(path, in, file_size);
  const std::vector<Llama2cTensor> layout = llama2c_layout(h);
  unsigned __int128 offset = static_cast<uint64_t>(h.data_offset);
  for (const auto& t : layout) {
    const unsigned __int128 end = offset + t.numel * 4;
    if (end > file_size)
      load_error(path, "truncated: " + (t.name.empty() ? std::string("the RoPE tables") : "tensor '" + t.name + "'") +
                           " needs bytes [" + u128_str(offset) + ", " + u128_str(end) + ") but the file has " +
                           std::to_string(file_size));
    offset = end;
  }
  if (offset != file_size)
    load_error(path, u128_str(file_size - offset) + " bytes after the last tensor (the header says " +
                         u128_str(offset) + " bytes in all): not a checkpoint of this configuration");
  // The header's sizes fit the file, so the model is no larger than it.
  auto model = std::make_unique<Llama>(h.config, DType::Float32, nn::Uninitialized{});
  std::map<std::string, Tensor> params;
  for (const auto& [name, p] : model->named_parameters()) params.emplace(name, p);
  in.seekg(h.data_offset);
  for (const auto& t : layout) {
    if (t.name.empty()) {
      in.seekg(static_cast<std::streamoff>(t.numel * 4), std::ios::cur);
      continue;
    }
    const Tensor& p = params.at(t.name);
    if (static_cast<unsigned __int128>(p.numel()) != t.numel)
      throw std::logic_error("llama2.c layout of '" + t.name + "' disagrees with the model");
    in.read(static_cast<char*>(p.raw_data()), static_cast<std::streamsize>(p.numel() * 4));
    if (!in) load_error(path, "read failed in tensor '" + t.name + "'");
  }
  return model;
}

std::unique_ptr<Llama> load_llama(const std::string& path, std::optional<DType> dtype) {
  if (fs::is_directory(path)) return load_hf_llama(path, dtype);
  if (!fs::exists(path)) load_error(path, "no such file or folder");
  auto model = load_llama2c(path);
  if (dtype && *dtype != DType::Float32) {
    // llama2.c stores fp32; a narrower model is a converted copy.
    auto narrow_model = std::make_unique<Llama>(model->config(), *dtype, nn::Uninitialized{});
    narrow_model->load_state_dict(model->state_dict());
    return narrow_model;
  }
  return model;
}

}  // namespace emrrg::models
