// Basic layers, initialised as PyTorch initialises them.
#pragma once
#include "nn/module.h"
#include "runtime/random.h"

namespace emrrg::nn {

// Tag for layers whose parameters a checkpoint will overwrite: storage is allocated but neither
// initialised nor touched, so loading a large model costs no random draws and no page faults.
struct Uninitialized {};

// y = x W^T + b; W [out, in] and b [out] ~ U(-1/sqrt(in), 1/sqrt(in)) (PyTorch's default).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator& gen = default_generator(),
         DType dtype = DType::Float32);
  Linear(int64_t in_features, int64_t out_features, bool bias, DType dtype, Uninitialized);
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias;
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
  double p;

 private:
  Generator* gen_;
};

}  // namespace emrrg::nn
