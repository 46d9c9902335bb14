// Module: a tree of named parameters and submodules (PyTorch's nn.Module, minus hooks).
// Parameter names are dotted paths ("layers.3.mixer.in_proj.weight"), the same names
// state_dict files use, so Hugging Face / PyTorch checkpoints map onto modules by name.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/checkpoint.h"
#include "runtime/tensor.h"

namespace emrrg::nn {

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Parameters of this module and every submodule, in registration order.
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<Tensor> parameters() const;
  std::vector<Tensor> trainable_parameters() const;
  std::vector<std::pair<std::string, Module*>> named_modules();  // includes this one as ""
  int64_t num_parameters(bool trainable_only = false) const;

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Sets requires_grad = false (freeze) or true (unfreeze) on every parameter whose full name
  // matches the ECMAScript regex `pattern` (whole-name match); returns how many matched.
  int freeze(const std::string& pattern);
  int unfreeze(const std::string& pattern);
  void zero_grad();

  std::map<std::string, Tensor> state_dict() const;
  // Copies values into the existing parameters (converting dtype). With strict, a missing,
  // unexpected or mis-shaped key is an error listing every such key; otherwise mis-shaped keys
  // are still errors and the rest are skipped.
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);
  // Moves every parameter to `device` in place: tensors already handed out (to an optimiser,
  // say) see the move.
  void to(Device device);
  void save(const std::string& path) const;                  // safetensors
  // safetensors or torch.save (runtime/checkpoint.h says how a nested checkpoint is narrowed and
  // renamed), then load_state_dict; errors name the file.
  void load(const std::string& path, bool strict = true) { load(path, CheckpointOptions{}, strict); }
  void load(const std::string& path, const CheckpointOptions& options, bool strict = true);

 protected:
  Tensor register_parameter(const std::string& name, Tensor value, bool requires_grad = true);
  template <typename M> std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }

 private:
  int set_requires_grad_matching(const std::string& pattern, bool value);
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace emrrg::nn
