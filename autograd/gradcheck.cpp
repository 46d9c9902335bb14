#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "autograd/tape.h"
#include "runtime/random.h"

namespace emrrg::autograd {

namespace {
double weighted_sum(const Tensor& out, const std::vector<double>& w) {
  const std::vector<double> v = out.to_vector<double>();
  double s = 0;
  for (size_t i = 0; i < v.size(); ++i) s += v[i] * w[i];
  return s;
}
}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& options) {
  for (const Tensor& x : inputs)
    if (x.defined() && x.requires_grad() &&
        (x.dtype() != DType::Float64 || !x.is_contiguous() || !x.is_leaf() || !x.device().is_cpu()))
      throw std::invalid_argument("gradcheck: inputs requiring grad must be contiguous float64 CPU leaves, got " +
                                  x.str());
  clear_tape();
  for (const Tensor& x : inputs)
    if (x.defined()) x.impl()->grad.reset();

  Tensor out = fn(inputs);
  if (!out.requires_grad()) return {false, 0, "gradcheck: output does not require grad"};
  Generator gen(options.seed);
  Tensor w = rand_uniform(out.shape(), -1.0, 1.0, gen, DType::Float64);
  const std::vector<double> wv = w.to_vector<double>();
  backward(out, convert(w, out.dtype()));

  GradcheckResult result;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.defined() || !x.requires_grad()) continue;
    std::vector<double> analytic(static_cast<size_t>(x.numel()), 0.0);
    if (x.grad().defined()) analytic = x.grad().to_vector<double>();
    double* p = x.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double orig = p[i];
      double plus, minus;
      {
        NoGradGuard no_grad;
        p[i] = orig + options.eps;
        plus = weighted_sum(fn(inputs), wv);
        p[i] = orig - options.eps;
        minus = weighted_sum(fn(inputs), wv);
        p[i] = orig;
      }
      const double numeric = (plus - minus) / (2 * options.eps);
      const double err = std::abs(numeric - analytic[i]);
      result.max_abs_error = std::max(result.max_abs_error, err);
      if (result.ok && err > options.atol + options.rtol * std::abs(numeric)) {
        std::ostringstream m;
        m.precision(10);
        m << "input " << k << " " << shape_str(x.shape()) << " element " << i << ": analytic " << analytic[i]
          << " vs numeric " << numeric;
        result.ok = false;
        result.message = m.str();
      }
    }
  }
  return result;
}

}  // namespace emrrg::autograd
