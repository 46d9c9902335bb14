#include "train/grad_clip.h"

#include <cmath>

#include "autograd/tape.h"
#include "ops/ops.h"

namespace emrrg::train {

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  autograd::NoGradGuard no_grad;
  double squares = 0.0;
  for (const Tensor& p : params) {
    const Tensor& g = p.grad();
    if (!g.defined()) continue;
    // Summed on the gradient's device; only a scalar per tensor comes back.
    const Tensor g32 = g.dtype() == DType::Float64 ? g : cast(g, DType::Float32);
    squares += sum(mul(g32, g32)).item();
  }
  const double norm = std::sqrt(squares);
  if (max_norm > 0) {
    const double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0)
      for (Tensor p : params)  // a handle: set_grad reaches the parameter
        if (p.grad().defined()) p.set_grad(mul(p.grad(), coef));
  }
  return norm;
}

}  // namespace emrrg::train
