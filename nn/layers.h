// Basic layers, initialised as PyTorch initialises them.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "nn/module.h"
#include "runtime/random.h"

namespace emrrg::nn {

// Tag for layers whose parameters a checkpoint will overwrite: storage is allocated but neither
// initialised nor touched, so loading a large model costs no random draws and no page faults.
struct Uninitialized {};

// A trainable term added to a Linear's output: LoRA and Partial LoRA (nn/lora.h).
class LinearAdapter : public Module {
 public:
  // x [..., in] is the Linear's input, y [..., out] its output so far; returns y plus this term.
  virtual Tensor add_to(const Tensor& x, const Tensor& y) const = 0;
  // x weight^T (+ bias) plus this term as one op, over a frozen weight (no gradient of its own):
  // what a Linear calls for its first adapter instead of computing the product and add_to.
  virtual Tensor fused_with(const Tensor& x, const Tensor& weight, const Tensor& bias) const = 0;
};

// y = x W^T + b; W [out, in] and b [out] ~ U(-1/sqrt(in), 1/sqrt(in)) (PyTorch's default).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator& gen = default_generator(),
         DType dtype = DType::Float32);
  Linear(int64_t in_features, int64_t out_features, bool bias, DType dtype, Uninitialized);
  // x W^T + b, then each attached adapter's term in attachment order; over a frozen W the
  // product and the first adapter are one op (LinearAdapter::fused_with).
  Tensor forward(const Tensor& x) const;
  // x W^T plus the adapters' terms, without b: Mamba's dt_proj, whose bias the selective scan adds.
  Tensor forward_without_bias(const Tensor& x) const;
  // Registers `adapter` as the submodule `name`: its parameters are named "<this>.<name>.*".
  void attach(const std::string& name, std::shared_ptr<LinearAdapter> adapter);
  int64_t in_features() const { return weight.shape()[1]; }
  int64_t out_features() const { return weight.shape()[0]; }
  Tensor weight, bias;

 private:
  Tensor with_adapters(const Tensor& x, const Tensor& b) const;
  std::vector<std::shared_ptr<LinearAdapter>> adapters_;
};

// Rows of weight [num, dim] ~ N(0, 1).
class Embedding : public Module {
 public:
  Embedding(int64_t num, int64_t dim, Generator& gen = default_generator(), DType dtype = DType::Float32);
  Embedding(int64_t num, int64_t dim, DType dtype, Uninitialized);
  Tensor forward(const Tensor& ids) const;
  Tensor weight;
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t dim, double eps = 1e-5, bool affine = true, DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias;
  double eps;
};

class RMSNorm : public Module {
 public:
  explicit RMSNorm(int64_t dim, double eps = 1e-5, DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) const;
  Tensor weight;
  double eps;
};

class Dropout : public Module {
 public:
  explicit Dropout(double p, Generator& gen = default_generator()) : p(p), gen_(&gen) {}
  Tensor forward(const Tensor& x) const;
  // The mask's Philox stream, for an op that applies this dropout inside itself (nn/lora.h).
  Generator& generator() const { return *gen_; }
  double p;

 private:
  Generator* gen_;
};

}  // namespace emrrg::nn
