#include "train/optimizer.h"

#include <cmath>
#include <stdexcept>

#include "ops/device_kernels.h"
#include "runtime/threading.h"

namespace emrrg::train {

namespace {

// Calls fn(p, g, i) over a parameter and `grad` as float or double working copies, then writes p
// back in the parameter's dtype.
template <typename Fn> void update_elementwise(const Tensor& param, const Tensor& grad, Fn&& fn) {
  if (!param.device().is_cpu()) throw std::invalid_argument("optimizer: no update kernel for " + param.str());
  if (!param.is_contiguous()) throw std::invalid_argument("optimizer: parameter " + param.str() + " is not contiguous");
  const DType wt = param.dtype() == DType::Float64 ? DType::Float64 : DType::Float32;
  Tensor p = param.dtype() == wt ? param : convert(param, wt);
  Tensor g = to_contiguous(convert(grad, wt));
  dispatch_dtype(wt, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      T* pp = p.data<T>();
      const T* gp = g.data<T>();
      parallel_for(p.numel(), 1 << 15, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) fn(pp[i], gp[i], i);
      });
    }
  });
  if (p.impl() != param.impl()) copy_into(param, p);
}

Tensor state_like(const Tensor& p) {
  return zeros(p.shape(), p.dtype() == DType::Float64 ? DType::Float64 : DType::Float32, p.device());
}

template <typename T> T* state_ptr(const Tensor& s) { return static_cast<T*>(s.raw_data()); }

}  // namespace

void Optimizer::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params) p.impl()->grad.reset();
}

SGD::SGD(const std::vector<Tensor>& params, const SGDOptions& options) : Optimizer(options.lr), options_(options) {
  if (options.nesterov && (options.momentum <= 0 || options.dampening != 0))
    throw std::invalid_argument("SGD: nesterov needs momentum > 0 and dampening 0");
  groups_.push_back({params, options.weight_decay});
  momentum_.resize(params.size());
}

void SGD::step() {
  const double lr = lr_, mu = options_.momentum, damp = options_.dampening, wd = options_.weight_decay;
  const bool nesterov = options_.nesterov;
  auto& params = groups_[0].params;
  for (size_t k = 0; k < params.size(); ++k) {
    if (!params[k].grad().defined()) continue;
    const bool first = !momentum_[k].defined();
    if (mu != 0 && first) momentum_[k] = state_like(params[k]);
    const Tensor buf = momentum_[k];
    update_elementwise(params[k], params[k].grad(), [&](auto& p, auto g, int64_t i) {
      using T = std::remove_reference_t<decltype(p)>;
      T d = g + static_cast<T>(wd) * p;
      if (mu != 0) {
        T& b = state_ptr<T>(buf)[i];
        b = first ? d : static_cast<T>(mu) * b + static_cast<T>(1 - damp) * d;
        d = nesterov ? d + static_cast<T>(mu) * b : b;
      }
      p -= static_cast<T>(lr) * d;
    });
  }
}

AdamW::AdamW(const std::vector<Tensor>& params, const AdamWOptions& options) : Optimizer(options.lr), options_(options) {
  add_param_group(params, options.weight_decay);
}

void AdamW::add_param_group(const std::vector<Tensor>& params, double weight_decay) {
  groups_.push_back({params, weight_decay});
  for (const Tensor& p : params) {
    m_.push_back(state_like(p));
    v_.push_back(state_like(p));
    const bool half = p.dtype() == DType::BFloat16 || p.dtype() == DType::Float16;
    masters_.push_back(options_.master_weights && half ? convert(p, DType::Float32) : Tensor{});
  }
}

void AdamW::step() {
  ++step_;
  const double b1 = options_.beta1, b2 = options_.beta2, eps = options_.eps, lr = lr_;
  const double bc1 = 1 - std::pow(b1, static_cast<double>(step_));
  const double bc2_sqrt = std::sqrt(1 - std::pow(b2, static_cast<double>(step_)));
  const double step_size = lr / bc1;
  size_t k = 0;
  for (auto& group : groups_) {
    const double decay = 1 - lr * group.weight_decay;
    for (const Tensor& param : group.params) {
      const Tensor m = m_[k], v = v_[k], master = masters_[k];
      ++k;
      if (!param.grad().defined()) continue;
      // With a master copy the update happens there, in float32, and the parameter gets it rounded.
      const Tensor& target = master.defined() ? master : param;
      if (!target.device().is_cpu()) {
        // The fused kernel evaluates the expressions below with these float32 constants.
        const auto f = [](double c) { return static_cast<float>(c); };
        const DeviceKernels::AdamWScalars s{f(decay), f(b1), f(1 - b1), f(b2), f(1 - b2), f(bc2_sqrt), f(eps), f(step_size)};
        device_kernel("AdamW", target, &DeviceKernels::adamw_step)(target, param.grad(), m, v, s);
      } else {
        update_elementwise(target, param.grad(), [&](auto& p, auto g, int64_t i) {
          using T = std::remove_reference_t<decltype(p)>;
          T& mi = state_ptr<T>(m)[i];
          T& vi = state_ptr<T>(v)[i];
          p *= static_cast<T>(decay);
          mi = static_cast<T>(b1) * mi + static_cast<T>(1 - b1) * g;
          vi = static_cast<T>(b2) * vi + static_cast<T>(1 - b2) * g * g;
          const T denom = std::sqrt(vi) / static_cast<T>(bc2_sqrt) + static_cast<T>(eps);
          p -= static_cast<T>(step_size) * mi / denom;
        });
      }
      if (master.defined()) copy_into(param, master);
    }
  }
}

void AdamW::reload_masters() {
  size_t k = 0;
  for (const auto& group : groups_)
    for (const Tensor& param : group.params) {
      if (masters_[k].defined()) masters_[k] = convert(param, DType::Float32);
      ++k;
    }
}

}  // namespace emrrg::train
