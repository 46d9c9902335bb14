#include "models/mlp.h"

#include "ops/elementwise.h"

namespace emrrg::models {

MLP::MLP(int64_t in, int64_t hidden, int64_t out, Generator& gen)
    : fc1_(register_module("fc1", std::make_shared<nn::Linear>(in, hidden, true, gen))),
      fc2_(register_module("fc2", std::make_shared<nn::Linear>(hidden, out, true, gen))) {}

Tensor MLP::forward(const Tensor& x) const { return fc2_->forward(gelu(fc1_->forward(x))); }

}  // namespace emrrg::models
