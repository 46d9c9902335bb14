#include "nn/layers.h"

#include <cmath>
#include <stdexcept>

#include "ops/dropout.h"
#include "ops/indexing.h"
#include "ops/matmul.h"
#include "ops/norm.h"
#include "runtime/profiler.h"

namespace emrrg::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool use_bias, Generator& gen, DType dtype) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  weight = register_parameter("weight", rand_uniform({out_features, in_features}, -bound, bound, gen, dtype));
  if (use_bias) bias = register_parameter("bias", rand_uniform({out_features}, -bound, bound, gen, dtype));
}

Linear::Linear(int64_t in_features, int64_t out_features, bool use_bias, DType dtype, Uninitialized) {
  weight = register_parameter("weight", empty({out_features, in_features}, dtype));
  if (use_bias) bias = register_parameter("bias", empty({out_features}, dtype));
}

Tensor Linear::forward(const Tensor& x) const {
  const profiler::Range layer("Linear", "layer");
  return with_adapters(x, bias);
}

Tensor Linear::forward_without_bias(const Tensor& x) const {
  const profiler::Range layer("Linear", "layer");
  return with_adapters(x, Tensor());
}

void Linear::attach(const std::string& name, std::shared_ptr<LinearAdapter> adapter) {
  for (const auto& [existing, module] : named_modules())
    if (existing == name)
      throw std::invalid_argument("Linear::attach: an adapter named '" + name + "' is already attached");
  adapters_.push_back(register_module(name, std::move(adapter)));
}

// Over a frozen W the product and the first adapter are one op (LoRA: lora_linear's fused GEMMs,
// not a separate product, down, dropout, up, scale and add). lora_linear takes one adapter and
// computes no dW: further adapters add their terms after it, in attachment order, so every dropout
// mask is drawn in the composed order; a trained W composes all of them.
Tensor Linear::with_adapters(const Tensor& x, const Tensor& b) const {
  const bool fuse_first = !adapters_.empty() && !weight.requires_grad();
  Tensor y = fuse_first ? adapters_.front()->fused_with(x, weight, b) : linear(x, weight, b);
  for (size_t i = fuse_first ? 1 : 0; i < adapters_.size(); ++i) y = adapters_[i]->add_to(x, y);
  return y;
}

Embedding::Embedding(int64_t num, int64_t dim, Generator& gen, DType dtype) {
  weight = register_parameter("weight", randn({num, dim}, 0.0, 1.0, gen, dtype));
}

Embedding::Embedding(int64_t num, int64_t dim, DType dtype, Uninitialized) {
  weight = register_parameter("weight", empty({num, dim}, dtype));
}

Tensor Embedding::forward(const Tensor& ids) const {
  const profiler::Range layer("Embedding", "layer");
  return embedding(weight, ids);
}

LayerNorm::LayerNorm(int64_t dim, double eps, bool affine, DType dtype) : eps(eps) {
  if (affine) {
    weight = register_parameter("weight", ones({dim}, dtype));
    bias = register_parameter("bias", zeros({dim}, dtype));
  }
}

Tensor LayerNorm::forward(const Tensor& x) const {
  const profiler::Range layer("LayerNorm", "layer");
  return layer_norm(x, weight, bias, eps);
}

RMSNorm::RMSNorm(int64_t dim, double eps, DType dtype) : eps(eps) {
  weight = register_parameter("weight", ones({dim}, dtype));
}

Tensor RMSNorm::forward(const Tensor& x) const {
  const profiler::Range layer("RMSNorm", "layer");
  return rms_norm(x, weight, eps);
}

Tensor Dropout::forward(const Tensor& x) const { return dropout(x, p, is_training(), *gen_); }

}  // namespace emrrg::nn
