// A two-layer perceptron (Linear -> GELU -> Linear): the model of `emrrg demo` until the EMRRG
// trainer exists, and a small end-to-end check of the autograd and optimisers.
#pragma once
#include <memory>

#include "nn/layers.h"

namespace emrrg::models {

class MLP : public nn::Module {
 public:
  MLP(int64_t in, int64_t hidden, int64_t out, Generator& gen);
  Tensor forward(const Tensor& x) const;  // [N, in] -> [N, out] logits

 private:
  std::shared_ptr<nn::Linear> fc1_, fc2_;
};

}  // namespace emrrg::models
