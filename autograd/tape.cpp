#include "autograd/tape.h"

#include <stdexcept>
#include <unordered_map>

#include "runtime/profiler.h"

namespace emrrg::autograd {

namespace {

struct Node {
  const char* name;
  std::vector<uint64_t> input_ids;
  std::vector<Shape> input_shapes;
  std::vector<bool> input_requires_grad;
  // Inputs that are leaves requiring grad: their .grad receives the result.
  std::vector<std::shared_ptr<TensorImpl>> leaf_inputs;
  std::vector<uint64_t> output_ids;
  std::vector<Shape> output_shapes;
  std::vector<DType> output_dtypes;
  std::vector<Device> output_devices;
  BackwardFn backward;
};

thread_local std::vector<Node> tape;
thread_local bool grad_mode = true;

void accumulate(std::unordered_map<uint64_t, Tensor>& grads, uint64_t id, const Tensor& g) {
  auto it = grads.find(id);
  if (it == grads.end()) {
    grads.emplace(id, g);
    return;
  }
  // Out of place: the stored gradient may alias one handed to another input.
  Tensor sum = empty(g.shape(), it->second.dtype(), g.device());
  copy_into(sum, it->second);
  add_into(sum, g);
  it->second = sum;
}

}  // namespace

bool grad_enabled() { return grad_mode; }
void set_grad_enabled(bool enabled) { grad_mode = enabled; }

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!grad_mode) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(const char* op_name, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
            BackwardFn backward) {
  // Every op calls record() once its outputs exist, recording or not: the profiler's op hook.
  if (profiler::active()) profiler::op_mark(op_name, inputs, outputs);
  if (!needs_grad(inputs)) return;
  Node node;
  node.name = op_name;
  for (const Tensor& t : inputs) {
    const bool rg = t.defined() && t.requires_grad();
    node.input_ids.push_back(t.defined() ? t.id() : 0);
    node.input_shapes.push_back(t.defined() ? t.shape() : Shape{});
    node.input_requires_grad.push_back(rg);
    node.leaf_inputs.push_back(rg && t.is_leaf() ? t.impl_ptr() : nullptr);
  }
  for (const Tensor& t : outputs) {
    t.impl()->requires_grad = true;
    t.impl()->has_grad_fn = true;
    node.output_ids.push_back(t.id());
    node.output_shapes.push_back(t.shape());
    node.output_dtypes.push_back(t.dtype());
    node.output_devices.push_back(t.device());
  }
  node.backward = std::move(backward);
  tape.push_back(std::move(node));
}

namespace {

// Adds the gradient `g` routed to a leaf into its .grad.
void write_leaf_grad(TensorImpl& impl, const Tensor& g) {
  if (!impl.grad) {
    // A fresh contiguous copy: the gradient must not alias anything a backward returned.
    Tensor owned = empty(g.shape(), impl.dtype, g.device());
    copy_into(owned, g);
    impl.grad = owned.impl_ptr();
  } else {
    add_into(Tensor(impl.grad), g);
  }
}

}  // namespace

void backward(const Tensor& root, const Tensor& grad_output, const GradientReadyHook& on_ready) {
  if (!root.requires_grad())
    throw std::invalid_argument("backward: the tensor does not require grad (no input of its graph requires grad)");
  Tensor seed = grad_output;
  if (!seed.defined()) {
    if (root.numel() != 1)
      throw std::invalid_argument("backward: a gradient is needed for non-scalar output of shape " +
                                  shape_str(root.shape()));
    seed = full(root.shape(), 1.0, root.dtype(), root.device());
  } else if (seed.shape() != root.shape()) {
    throw std::invalid_argument("backward: grad_output shape " + shape_str(seed.shape()) + " vs output " +
                                shape_str(root.shape()));
  }
  NoGradGuard no_grad;
  std::unordered_map<uint64_t, Tensor> grads;
  grads.emplace(root.id(), seed);
  // The leaf inputs of node k whose last use it is (the lowest tape index that takes them) are
  // final once node k is done: finished_after[k] holds their input positions.
  std::vector<std::vector<size_t>> finished_after(tape.size());
  {
    std::unordered_map<uint64_t, size_t> last_use;
    for (size_t k = 0; k < tape.size(); ++k)
      for (size_t i = 0; i < tape[k].input_ids.size(); ++i)
        if (tape[k].leaf_inputs[i] && last_use.emplace(tape[k].input_ids[i], k).second) finished_after[k].push_back(i);
  }
  const auto finish_leaves = [&](const Node& node, size_t k) {
    for (size_t i : finished_after[k]) {
      const std::shared_ptr<TensorImpl>& impl = node.leaf_inputs[i];
      auto it = grads.find(impl->id);
      if (it != grads.end()) {
        write_leaf_grad(*impl, it->second);
        grads.erase(it);
      }
      if (on_ready) on_ready(Tensor(impl));
    }
  };
  while (!tape.empty()) {
    const size_t k = tape.size() - 1;
    Node node = std::move(tape.back());
    tape.pop_back();
    std::vector<Tensor> gouts;
    bool any = false;
    for (size_t i = 0; i < node.output_ids.size(); ++i) {
      auto it = grads.find(node.output_ids[i]);
      if (it != grads.end()) {
        gouts.push_back(it->second);
        grads.erase(it);
        any = true;
      } else {
        gouts.push_back(zeros(node.output_shapes[i], node.output_dtypes[i], node.output_devices[i]));
      }
    }
    if (!any) {
      finish_leaves(node, k);
      continue;
    }
    std::vector<Tensor> gins;
    {
      const profiler::Range range(node.name, "backward");
      gins = node.backward(gouts);
    }
    if (gins.size() != node.input_ids.size())
      throw std::logic_error(std::string("backward of ") + node.name + " returned " + std::to_string(gins.size()) +
                             " gradients for " + std::to_string(node.input_ids.size()) + " inputs");
    for (size_t i = 0; i < gins.size(); ++i) {
      if (!node.input_requires_grad[i] || !gins[i].defined()) continue;
      if (gins[i].shape() != node.input_shapes[i])
        throw std::logic_error(std::string("backward of ") + node.name + ": gradient " + shape_str(gins[i].shape()) +
                               " for input " + std::to_string(i) + " of shape " + shape_str(node.input_shapes[i]));
      accumulate(grads, node.input_ids[i], gins[i]);
    }
    finish_leaves(node, k);
  }
  // A leaf root that no node used: its gradient is the seed.
  if (root.is_leaf() && grads.count(root.id())) {
    write_leaf_grad(*root.impl(), grads.at(root.id()));
    if (on_ready) on_ready(root);
  }
}

size_t tape_size() { return tape.size(); }
void clear_tape() { tape.clear(); }

std::vector<Tensor> Function::apply(const std::shared_ptr<Function>& fn, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> outputs;
  {
    NoGradGuard no_grad;
    outputs = fn->forward(inputs);
  }
  record(fn->name(), inputs, outputs, [fn](const std::vector<Tensor>& g) { return fn->backward(g); });
  return outputs;
}

}  // namespace emrrg::autograd
