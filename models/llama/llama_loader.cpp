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

// The tensors of a llama2.c file in file order; an empty name is data to skip (the legacy
// format's RoPE tables), with its element count in `skip`.
struct Llama2cTensor {
  std::string name;
  int64_t skip = 0;
};

std::vector<Llama2cTensor> llama2c_layout(const Llama2cHeader& h) {
  const LlamaConfig& c = h.config;
  std::vector<Llama2cTensor> out;
  auto per_layer = [&](const std::string& suffix) {
    for (int64_t l = 0; l < c.num_layers; ++l) out.push_back({"model.layers." + std::to_string(l) + "." + suffix});
  };
  if (h.version == 1) {
    per_layer("input_layernorm.weight");
    per_layer("post_attention_layernorm.weight");
    out.push_back({"model.norm.weight"});
    out.push_back({"model.embed_tokens.weight"});
  } else {
    out.push_back({"model.embed_tokens.weight"});
    per_layer("input_layernorm.weight");
  }
  for (const char* s : {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
                        "self_attn.o_proj.weight"})
    per_layer(s);
  if (h.version == 0) per_layer("post_attention_layernorm.weight");
  // llama2.c's w1, w2, w3 are gate, down and up.
  for (const char* s : {"mlp.gate_proj.weight", "mlp.down_proj.weight", "mlp.up_proj.weight"}) per_layer(s);
  if (h.version == 0) {
    out.push_back({"model.norm.weight"});
    out.push_back({"", h.seq_len * c.head_dim});  // freq_cis_real and freq_cis_imag, [seq_len, head_dim / 2] each
  }
  if (!h.shared_classifier) out.push_back({"lm_head.weight"});
  return out;
}

}  // namespace

std::unique_ptr<Llama> load_llama2c(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) load_error(path, "cannot open");
  std::error_code ec;
  const uint64_t file_size = fs::file_size(path, ec);
  if (ec) load_error(path, "cannot read its size: " + ec.message());
  const Llama2cHeader h = read_llama2c_header(path, in, file_size);
  auto model = std::make_unique<Llama>(h.config, DType::Float32, nn::Uninitialized{});
  std::map<std::string, Tensor> params;
  for (const auto& [name, p] : model->named_parameters()) params.emplace(name, p);

  const std::vector<Llama2cTensor> layout = llama2c_layout(h);
  uint64_t offset = static_cast<uint64_t>(h.data_offset);
  for (const auto& t : layout) {
    const int64_t numel = t.name.empty() ? t.skip : params.at(t.name).numel();
    const uint64_t end = offset + static_cast<uint64_t>(numel) * 4;
    if (end > file_size)
      load_error(path, "truncated: " + (t.name.empty() ? std::string("the RoPE tables") : "tensor '" + t.name + "'") +
                           " needs bytes [" + std::to_string(offset) + ", " + std::to_string(end) + ") but the file has " +
                           std::to_string(file_size));
    offset = end;
  }
  if (offset != file_size)
    load_error(path, std::to_string(file_size - offset) + " bytes after the last tensor (the header says " +
                         std::to_string(offset) + " bytes in all): not a checkpoint of this configuration");
  in.seekg(h.data_offset);
  for (const auto& t : layout) {
    if (t.name.empty()) {
      in.seekg(t.skip * 4, std::ios::cur);
      continue;
    }
    const Tensor& p = params.at(t.name);
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
