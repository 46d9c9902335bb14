// Tape autograd. Every differentiable op that sees an input requiring grad appends a Node to
// the (thread-local) tape: which tensors went in, which came out, and a closure that maps
// output gradients to input gradients (holding whatever the op saved). backward(loss) walks the
// tape from the end, routes gradients by tensor id, accumulates them into the .grad of leaves
// that require grad, and empties the tape, freeing everything the nodes saved.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace emrrg::autograd {

// Gradient of each input (an undefined Tensor where an input gets none), given the gradient of
// each output (zeros for outputs the loss does not depend on).
using BackwardFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& grad_outputs)>;

bool grad_enabled();
void set_grad_enabled(bool enabled);

// Disables recording in a scope (inference, optimiser steps, backward itself).
class NoGradGuard {
 public:
  NoGradGuard() : previous_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when recording is on and some input requires grad.
bool needs_grad(const std::vector<Tensor>& inputs);

// Appends a node if needs_grad(inputs); marks the outputs as requiring grad. Ops call this
// after computing their outputs.
void record(const char* op_name, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
            BackwardFn backward);

// Told of each leaf that requires grad once no node left on the tape can add to its .grad, while
// the backward goes on: data parallelism starts reducing those gradients then (llm.c's overlap).
using GradientReadyHook = std::function<void(const Tensor& leaf)>;

// Back-propagates from `root`. With no grad_output, root must have one element and gets 1. Each
// leaf's .grad is written as soon as the last node that uses it is done, and `on_ready` (when
// given) is called for it then, whether or not the leaf received a gradient in this pass.
void backward(const Tensor& root, const Tensor& grad_output = Tensor(), const GradientReadyHook& on_ready = {});

size_t tape_size();
// Drops every recorded node (e.g. after a forward pass whose result is not differentiated).
void clear_tape();

// A user-defined differentiable operation, for fused kernels that compute several things at
// once: forward runs without recording; backward maps output gradients to input gradients.
// State needed by backward is kept in members; it is freed with the tape.
class Function {
 public:
  virtual ~Function() = default;
  virtual const char* name() const = 0;
  virtual std::vector<Tensor> forward(const std::vector<Tensor>& inputs) = 0;
  virtual std::vector<Tensor> backward(const std::vector<Tensor>& grad_outputs) = 0;

  static std::vector<Tensor> apply(const std::shared_ptr<Function>& fn, const std::vector<Tensor>& inputs);
};

}  // namespace emrrg::autograd
