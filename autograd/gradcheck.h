// Finite-difference check of analytic gradients in float64. For a function f of several
// tensors, with a fixed random weighting w of its output, compares d(sum w*f)/dx from backward
// with central differences (f(x+eps) - f(x-eps)) / 2eps for every element of every input that
// requires grad.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace emrrg::autograd {

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;
  std::string message;  // the first failing input and element, when !ok
};

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-4;
  uint64_t seed = 1234;  // for the output weighting
};

// Inputs must be contiguous float64 CPU leaves; those with requires_grad are checked.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& options = {});

}  // namespace emrrg::autograd
