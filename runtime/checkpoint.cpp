#include "runtime/checkpoint.h"

#include <regex>
#include <stdexcept>

#include "runtime/safetensors.h"
#include "runtime/torch_checkpoint.h"

namespace emrrg {

namespace {

using Kind = PickleValue::Kind;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("checkpoint '" + path + "': " + what);
}

bool is_state_dict(const PickleValue& v) {
  if (!v.is(Kind::Dict)) return false;
  for (const auto& [k, t] : v.entries)
    if (!t->is(Kind::Tensor)) return false;
  return true;
}

std::string keys_of(const PickleValue& dict) {
  std::string s;
  for (const auto& [k, v] : dict.entries) s += (s.empty() ? "" : ", ") + (k->is(Kind::String) ? k->text : k->describe());
  return "[" + s + "]";
}

// The dict holding the tensors, and the path of keys that led to it (for messages).
const PickleValue& find_state_dict(const std::string& path, const PickleValue& root, const std::string& key,
                                   std::string& where) {
  if (!root.is(Kind::Dict)) fail(path, "holds a " + root.describe() + ", not a dict");
  if (!key.empty()) {
    const PickleValue* v = root.get(key);
    if (v == nullptr) fail(path, "has no top-level key '" + key + "' (keys: " + keys_of(root) + ")");
    where = "['" + key + "']";
    return *v;
  }
  const PickleValue* v = &root;
  for (int depth = 0; depth < 4 && !is_state_dict(*v); ++depth) {
    const PickleValue* next = nullptr;
    for (const char* name : {"model", "state_dict", "module"}) {
      const PickleValue* c = v->get(name);
      if (c != nullptr && c->is(Kind::Dict)) {
        next = c;
        where += std::string("['") + name + "']";
        break;
      }
    }
    if (next == nullptr)
      fail(path, "no state dict found at " + (where.empty() ? std::string("the top level") : where) + " (keys: " +
                     keys_of(*v) + "); name the entry that holds it");
    v = next;
  }
  return *v;
}

std::map<std::string, Tensor> torch_state_dict(const std::string& path, const CheckpointOptions& o) {
  const TorchCheckpoint ckpt = TorchCheckpoint::open(path, {o.inert_classes});
  std::string where;
  const PickleValue& dict = find_state_dict(path, ckpt.root(), o.key, where);
  if (!dict.is(Kind::Dict)) fail(path, where + " is a " + dict.describe() + ", not a state dict");
  std::map<std::string, Tensor> out;
  for (const auto& [k, v] : dict.entries) {
    if (!k->is(Kind::String)) fail(path, where + " has a " + k->describe() + " key; state dict keys are strings");
    if (!v->is(Kind::Tensor)) fail(path, where + "['" + k->text + "'] is a " + v->describe() + ", not a tensor");
    out.emplace(k->text, v->tensor);
  }
  return out;
}

std::map<std::string, Tensor> safetensors_state_dict(const std::string& path, const CheckpointOptions& o) {
  if (!o.key.empty()) fail(path, "is a safetensors file, which has no nesting for the key '" + o.key + "' to pick");
  const SafetensorsFile file = SafetensorsFile::open(path);
  std::map<std::string, Tensor> out;
  for (const std::string& name : file.names()) out.emplace(name, file.get(name));
  return out;
}

}  // namespace

std::optional<std::pair<std::string, std::string>> parse_prefix_rename(const std::string& from_to) {
  const size_t eq = from_to.find('=');
  if (eq == std::string::npos) return std::nullopt;
  return std::make_pair(from_to.substr(0, eq), from_to.substr(eq + 1));
}

std::map<std::string, Tensor> read_checkpoint(const std::string& path, const CheckpointOptions& options) {
  std::vector<std::regex> exclude;
  for (const std::string& pattern : options.exclude) {
    try {
      exclude.emplace_back(pattern);
    } catch (const std::regex_error& e) {
      fail(path, "invalid exclude pattern '" + pattern + "': " + e.what());
    }
  }
  const auto raw = looks_like_torch_save(path) ? torch_state_dict(path, options) : safetensors_state_dict(path, options);
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : raw) {
    std::string mapped = name;
    for (const auto& [from, to] : options.rename_prefixes)
      if (mapped.starts_with(from)) {
        mapped = to + mapped.substr(from.size());
        break;
      }
    bool dropped = false;
    for (const std::regex& re : exclude) dropped = dropped || std::regex_match(mapped, re);
    if (dropped) continue;
    if (!out.emplace(mapped, t).second) fail(path, "two tensors map to the name '" + mapped + "'");
  }
  return out;
}

}  // namespace emrrg
