#include "ops/causal_conv1d.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "autograd/tape.h"
#include "ops/device_kernels.h"
#include "ops/kernel_util.h"
#include "ops/mamba_math.h"
#include "runtime/threading.h"

namespace emrrg {

namespace {

constexpr const char* kOp = "causal_conv1d";

std::string describe(const char* name, const Tensor& t) {
  return std::string(name) + " " + dtype_name(t.dtype()) + " " + shape_str(t.shape());
}

void check_conv_args(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  if (!x.defined()) detail::op_error(kOp, "x is undefined");
  if (!weight.defined()) detail::op_error(kOp, "weight is undefined");
  const DType io = x.dtype();
  if (io != DType::Float32 && io != DType::BFloat16 && io != DType::Float16 && io != DType::Float64)
    detail::op_error(kOp, describe("x", x) + " must be float32, bfloat16, float16 or float64");
  if (x.dim() != 3) detail::op_error(kOp, describe("x", x) + " must be [batch, d, L]");
  const int64_t d = x.size(1);
  const bool shape_ok = (weight.dim() == 2 && weight.size(0) == d) ||
                        (weight.dim() == 3 && weight.size(0) == d && weight.size(1) == 1);
  if (!shape_ok)
    detail::op_error(kOp, describe("weight", weight) + " must be [d, W] or [d, 1, W] with d = " + std::to_string(d) +
                              " (x " + shape_str(x.shape()) + ")");
  const int64_t W = weight.shape().back();
  if (W < 2 || W > 4) detail::op_error(kOp, describe("weight", weight) + ": width W must be 2, 3 or 4");
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != d))
    detail::op_error(kOp, describe("bias", bias) + " must be [d] = [" + std::to_string(d) + "]");
  // Parameters in x's dtype or float32 (float64 only with float64 x, for gradcheck).
  for (const auto& [name, p] : {std::pair<const char*, const Tensor*>{"weight", &weight}, {"bias", &bias}}) {
    if (!p->defined()) continue;
    if (p->device() != x.device())
      detail::op_error(kOp, describe(name, *p) + " is on " + p->device().str() + ", x on " + x.device().str());
    const bool dtype_ok = p->dtype() == io || (io != DType::Float64 && p->dtype() == DType::Float32);
    if (!dtype_ok)
      detail::op_error(kOp, describe(name, *p) + " must be x's dtype " + dtype_name(io) +
                                (io == DType::Float64 || io == DType::Float32 ? std::string() : " or float32"));
  }
}

// x, weight, bias as contiguous copies in the compute type T (weight [d, W]).
template <typename T> struct ConvOperands {
  int64_t batch, d, L, W;
  bool silu;
  const T *x, *w, *bias;  // bias null when undefined
  std::vector<Tensor> owned;

  ConvOperands(const Tensor& x_, const Tensor& w_, const Tensor& bias_, bool silu_)
      : batch(x_.size(0)), d(x_.size(1)), L(x_.size(2)), W(w_.shape().back()), silu(silu_) {
    x = compute_copy(x_);
    w = compute_copy(w_);
    bias = compute_copy(bias_);
  }
  const T* compute_copy(const Tensor& t) {
    if (!t.defined()) return nullptr;
    owned.push_back(to_contiguous(convert(t, dtype_of<T>())));
    return owned.back().template data<T>();
  }
  // The pre-activations of row (b, c) into pre [L]: bias, then the taps in weight order.
  void pre_activations(int64_t row, T* pre) const {
    const int64_t c = row % d;
    const T* xr = x + row * L;
    const T* wr = w + c * W;
    std::fill(pre, pre + L, bias ? bias[c] : T(0));
    for (int64_t k = 0; k < W; ++k) {
      const int64_t shift = W - 1 - k;  // out[t] reads x[t - shift] through weight[k]
      for (int64_t t = shift; t < L; ++t) pre[t] += wr[k] * xr[t - shift];
    }
  }
};

template <typename T> Tensor conv_forward(const ConvOperands<T>& s) {
  Tensor out = empty({s.batch, s.d, s.L}, dtype_of<T>());
  T* po = out.data<T>();
  parallel_for(s.batch * s.d, std::max<int64_t>(1, 4096 / std::max<int64_t>(s.L, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t row = r0; row < r1; ++row) {
      T* o = po + row * s.L;
      s.pre_activations(row, o);
      if (s.silu)
        for (int64_t t = 0; t < s.L; ++t) o[t] = mamba::silu(o[t]);
    }
  });
  return out;
}

// {dx [batch, d, L], dweight [d, W], dbias [d] or undefined} in T.
template <typename T> std::vector<Tensor> conv_backward(const ConvOperands<T>& s, const T* dout) {
  const int64_t L = s.L, W = s.W;
  Tensor dx = empty({s.batch, s.d, L}, dtype_of<T>());
  // Per-(batch, channel) sums over time, reduced over batch in order below.
  Tensor dw_part = empty({s.batch, s.d, W}, dtype_of<T>());
  Tensor db_part = empty({s.batch, s.d}, dtype_of<T>());
  T* pdx = dx.data<T>();
  T* pdw = dw_part.data<T>();
  T* pdb = db_part.data<T>();
  parallel_for(s.batch * s.d, std::max<int64_t>(1, 4096 / std::max<int64_t>(L, 1)), [&](int64_t r0, int64_t r1) {
    std::vector<T> dpre(static_cast<size_t>(L));
    for (int64_t row = r0; row < r1; ++row) {
      const T* xr = s.x + row * L;
      const T* wr = s.w + (row % s.d) * W;
      const T* g = dout + row * L;
      T* dxr = pdx + row * L;
      s.pre_activations(row, dpre.data());
      T db = 0;
      for (int64_t t = 0; t < L; ++t) {
        dpre[t] = s.silu ? g[t] * mamba::silu_derivative(dpre[t]) : g[t];
        db += dpre[t];
      }
      // x[i] reaches out[i + shift] through weight[k].
      std::fill(dxr, dxr + L, T(0));
      for (int64_t k = 0; k < W; ++k) {
        const int64_t shift = W - 1 - k;
        for (int64_t i = 0; i + shift < L; ++i) dxr[i] += wr[k] * dpre[i + shift];
        T acc = 0;
        for (int64_t t = shift; t < L; ++t) acc += xr[t - shift] * dpre[t];
        pdw[row * W + k] = acc;
      }
      pdb[row] = db;
    }
  });
  Tensor dweight = zeros({s.d, W}, dtype_of<T>());
  Tensor dbias = s.bias ? zeros({s.d}, dtype_of<T>()) : Tensor();
  T* pw = dweight.data<T>();
  T* pb = s.bias ? dbias.data<T>() : nullptr;
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t c = 0; c < s.d; ++c) {
      for (int64_t k = 0; k < W; ++k) pw[c * W + k] += pdw[(b * s.d + c) * W + k];
      if (pb) pb[c] += pdb[b * s.d + c];
    }
  return {dx, dweight, dbias};
}

// The CPU kernels behind the DeviceKernels entries' signatures (weight [d, W]); float64 x
// computes in float64, every other dtype in float32.
Tensor cpu_causal_conv1d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, bool silu) {
  return detail::dispatch_compute(x.dtype(), [&](auto tag) {
    return convert(conv_forward(ConvOperands<decltype(tag)>(x, weight, bias, silu)), x.dtype());
  });
}

std::vector<Tensor> cpu_causal_conv1d_backward(const Tensor& x, const Tensor& weight, const Tensor& bias, bool silu,
                                               const Tensor& dout) {
  return detail::dispatch_compute(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const Tensor g = to_contiguous(convert(dout, dtype_of<T>()));
    std::vector<Tensor> grads = conv_backward(ConvOperands<T>(x, weight, bias, silu), g.data<T>());
    grads[0] = convert(grads[0], x.dtype());
    grads[1] = convert(grads[1], weight.dtype());
    if (grads[2].defined()) grads[2] = convert(grads[2], bias.dtype());
    return grads;
  });
}

// Inputs {x, weight, bias}; output {out}.
class CausalConv1dFunction final : public autograd::Function {
 public:
  explicit CausalConv1dFunction(bool silu) : silu_(silu) {}
  const char* name() const override { return kOp; }

  std::vector<Tensor> forward(const std::vector<Tensor>& in) override {
    x_ = to_contiguous(in[0]);
    weight_shape_ = in[1].shape();
    weight_ = *views::try_reshape(to_contiguous(in[1]), {in[1].size(0), in[1].shape().back()});
    bias_ = in[2].defined() ? to_contiguous(in[2]) : Tensor();
    auto kernel = x_.device().is_cpu() ? &cpu_causal_conv1d_forward
                                       : device_kernel(kOp, x_, &DeviceKernels::causal_conv1d_forward);
    return {kernel(x_, weight_, bias_, silu_)};
  }

  std::vector<Tensor> backward(const std::vector<Tensor>& grad_outputs) override {
    auto kernel = x_.device().is_cpu() ? &cpu_causal_conv1d_backward
                                       : device_kernel(kOp, x_, &DeviceKernels::causal_conv1d_backward);
    std::vector<Tensor> grads = kernel(x_, weight_, bias_, silu_, to_contiguous(grad_outputs[0]));
    grads[1] = *views::try_reshape(grads[1], weight_shape_);
    return grads;
  }

 private:
  bool silu_;
  Tensor x_, weight_, bias_;
  Shape weight_shape_;
};

}  // namespace

Tensor causal_conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, bool silu_activation) {
  check_conv_args(x, weight, bias);
  auto fn = std::make_shared<CausalConv1dFunction>(silu_activation);
  return autograd::Function::apply(fn, {x, weight, bias})[0];
}

}  // namespace emrrg
