#include "nn/module.h"

#include <regex>
#include <stdexcept>

#include "nn/state_dict_mismatch.h"
#include "runtime/safetensors.h"

namespace emrrg::nn {

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out = params_;
  for (const auto& [name, child] : children_)
    for (auto& [pname, t] : child->named_parameters()) out.emplace_back(name + "." + pname, t);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<Tensor> Module::trainable_parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters())
    if (t.requires_grad()) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (auto& [name, child] : children_)
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(sub.empty() ? name : name + "." + sub, m);
  return out;
}

int64_t Module::num_parameters(bool trainable_only) const {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters())
    if (!trainable_only || t.requires_grad()) n += t.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, child] : children_) child->train(on);
}

int Module::set_requires_grad_matching(const std::string& pattern, bool value) {
  std::regex re;
  try {
    re = std::regex(pattern);
  } catch (const std::regex_error& e) {
    throw std::invalid_argument("freeze/unfreeze: invalid pattern '" + pattern + "': " + e.what());
  }
  int count = 0;
  for (auto& [name, t] : named_parameters())
    if (std::regex_match(name, re)) {
      Tensor(t).set_requires_grad(value);
      ++count;
    }
  return count;
}

int Module::freeze(const std::string& pattern) { return set_requires_grad_matching(pattern, false); }
int Module::unfreeze(const std::string& pattern) { return set_requires_grad_matching(pattern, true); }

void Module::zero_grad() {
  for (auto& [n, t] : named_parameters()) t.impl()->grad.reset();
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (auto& [n, t] : named_parameters()) out.emplace(n, t);
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  std::vector<std::string> missing, unexpected, misshaped;
  const auto params = named_parameters();
  std::map<std::string, Tensor> mine(params.begin(), params.end());
  for (auto& [name, t] : mine) {
    auto it = state.find(name);
    if (it == state.end())
      missing.push_back(name);
    else if (it->second.shape() != t.shape())
      misshaped.push_back(name + " (checkpoint " + shape_str(it->second.shape()) + ", model " + shape_str(t.shape()) + ")");
  }
  for (auto& [name, t] : state)
    if (!mine.count(name)) unexpected.push_back(name);
  if (!misshaped.empty() || (strict && (!missing.empty() || !unexpected.empty()))) {
    throw std::runtime_error("load_state_dict:" + describe_state_dict_mismatch(missing, unexpected, misshaped));
  }
  for (auto& [name, t] : mine) {
    auto it = state.find(name);
    if (it != state.end()) copy_into(t, it->second);
  }
}

void Module::to(Device device) {
  for (auto& [name, t] : named_parameters()) {
    if (t.device() == device) continue;
    Tensor moved = to_device(to_contiguous(t), device);
    TensorImpl* impl = t.impl();
    impl->storage = moved.storage();
    impl->strides = moved.strides();
    impl->offset = moved.offset();
    impl->grad.reset();
  }
}

void Module::save(const std::string& path) const { save_safetensors(path, state_dict()); }

void Module::load(const std::string& path, const CheckpointOptions& options, bool strict) {
  const std::map<std::string, Tensor> state = read_checkpoint(path, options);
  try {
    load_state_dict(state, strict);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("'" + path + "': " + e.what());
  }
}

Tensor Module::register_parameter(const std::string& name, Tensor value, bool requires_grad) {
  if (name.empty() || name.find('.') != std::string::npos)
    throw std::invalid_argument("register_parameter: bad name '" + name + "'");
  value.set_requires_grad(requires_grad);
  params_.emplace_back(name, value);
  return value;
}

}  // namespace emrrg::nn
