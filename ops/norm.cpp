#include "ops/norm.h"

#include <cmath>

#include "autograd/tape.h"
#include "ops/device_kernels.h"
#include "ops/kernel_util.h"
#include "ops/op_cost.h"

namespace emrrg {

namespace {

enum class NormKind { Layer, Rms };

// Per-row statistics saved for the backward: mean (0 for RMSNorm) and 1/sqrt(var_or_ms + eps).
struct NormStats {
  Tensor mean, rstd;  // [rows], compute dtype
};

template <typename T>
Tensor norm_forward(NormKind kind, const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                    NormStats& stats) {
  const int64_t D = x.shape().back();
  const int64_t rows = D ? x.numel() / D : 0;
  Tensor xc = to_contiguous(convert(x, dtype_of<T>()));
  Tensor wc = weight.defined() ? to_contiguous(convert(weight, dtype_of<T>())) : Tensor();
  Tensor bc = bias.defined() ? to_contiguous(convert(bias, dtype_of<T>())) : Tensor();
  Tensor y = empty(x.shape(), dtype_of<T>());
  stats.mean = empty({rows}, dtype_of<T>());
  stats.rstd = empty({rows}, dtype_of<T>());
  const T* px = xc.data<T>();
  const T* pw = wc.defined() ? wc.data<T>() : nullptr;
  const T* pb = bc.defined() ? bc.data<T>() : nullptr;
  T* py = y.data<T>();
  T* pm = stats.mean.data<T>();
  T* pr = stats.rstd.data<T>();
  const DType in_dtype = x.dtype();
  parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(D, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const T* xr = px + r * D;
      T* yr = py + r * D;
      double mean = 0;
      if (kind == NormKind::Layer) {
        for (int64_t i = 0; i < D; ++i) mean += xr[i];
        mean /= static_cast<double>(D);
      }
      double ss = 0;
      for (int64_t i = 0; i < D; ++i) ss += (xr[i] - mean) * (xr[i] - mean);
      const T rstd = static_cast<T>(1.0 / std::sqrt(ss / static_cast<double>(D) + eps));
      pm[r] = static_cast<T>(mean);
      pr[r] = rstd;
      for (int64_t i = 0; i < D; ++i) {
        T v = (xr[i] - static_cast<T>(mean)) * rstd;
        if (kind == NormKind::Rms) v = detail::round_to(in_dtype, v);
        if (pw) v *= pw[i];
        if (pb) v += pb[i];
        yr[i] = v;
      }
    }
  });
  return y;
}

template <typename T>
std::vector<Tensor> norm_backward(NormKind kind, const Tensor& x, const Tensor& weight, const Tensor& g,
                                  const NormStats& stats, bool has_bias) {
  const int64_t D = x.shape().back();
  const int64_t rows = D ? x.numel() / D : 0;
  Tensor xc = to_contiguous(convert(x, dtype_of<T>()));
  Tensor gc = to_contiguous(convert(g, dtype_of<T>()));
  Tensor wc = weight.defined() ? to_contiguous(convert(weight, dtype_of<T>())) : Tensor();
  Tensor gx = empty(x.shape(), dtype_of<T>());
  const T* px = xc.data<T>();
  const T* pg = gc.data<T>();
  const T* pw = wc.defined() ? wc.data<T>() : nullptr;
  const T* pm = stats.mean.data<T>();
  const T* pr = stats.rstd.data<T>();
  T* pgx = gx.data<T>();
  parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(D, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const T* xr = px + r * D;
      const T* gr = pg + r * D;
      double sum_dxhat = 0, sum_dxhat_xhat = 0;
      for (int64_t i = 0; i < D; ++i) {
        const double dxhat = gr[i] * (pw ? pw[i] : T(1));
        const double xhat = (xr[i] - pm[r]) * pr[r];
        sum_dxhat += dxhat;
        sum_dxhat_xhat += dxhat * xhat;
      }
      const double mean_dxhat = kind == NormKind::Layer ? sum_dxhat / static_cast<double>(D) : 0.0;
      const double mean_dxhat_xhat = sum_dxhat_xhat / static_cast<double>(D);
      for (int64_t i = 0; i < D; ++i) {
        const double dxhat = gr[i] * (pw ? pw[i] : T(1));
        const double xhat = (xr[i] - pm[r]) * pr[r];
        pgx[r * D + i] = static_cast<T>(pr[r] * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat));
      }
    }
  });
  std::vector<Tensor> out{gx, Tensor(), Tensor()};
  // Parameter gradients: sums over rows, accumulated in double.
  if (weight.defined() || has_bias) {
    std::vector<double> dw(static_cast<size_t>(D), 0.0), db(static_cast<size_t>(D), 0.0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < D; ++i) {
        const double xhat = (px[r * D + i] - pm[r]) * pr[r];
        dw[i] += pg[r * D + i] * xhat;
        db[i] += pg[r * D + i];
      }
    if (weight.defined()) out[1] = from_vector(dw, {D}, dtype_of<T>());
    if (has_bias) out[2] = from_vector(db, {D}, dtype_of<T>());
  }
  return out;
}

// x or g as the contiguous [rows, D] the device kernels take.
Tensor device_rows(const Tensor& t, int64_t D) { return *views::try_reshape(to_contiguous(t), {D ? t.numel() / D : 0, D}); }
Tensor contiguous_if_defined(const Tensor& p) { return p.defined() ? to_contiguous(p) : p; }

// normalize's forward and backward with the kernels of x's device.
Tensor device_norm_forward(NormKind kind, const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias,
                           double eps, NormStats& stats) {
  const int64_t D = x.shape().back();
  std::vector<Tensor> out = device_kernel(op, x, &DeviceKernels::norm_rows)(
      kind == NormKind::Rms, device_rows(x, D), contiguous_if_defined(weight), contiguous_if_defined(bias), eps);
  stats.mean = out[1];
  stats.rstd = out[2];
  return *views::try_reshape(out[0], x.shape());
}
std::vector<Tensor> device_norm_backward(NormKind kind, const char* op, const Tensor& x, const Tensor& weight,
                                         const Tensor& g, const NormStats& stats, bool has_bias) {
  const int64_t D = x.shape().back();
  Tensor gc = g.dtype() == x.dtype() ? g : convert(g, x.dtype());
  std::vector<Tensor> grads = device_kernel(op, x, &DeviceKernels::norm_rows_backward)(
      kind == NormKind::Rms, device_rows(x, D), contiguous_if_defined(weight), device_rows(gc, D),
      stats.mean, stats.rstd, has_bias);
  grads[0] = *views::try_reshape(grads[0], x.shape());
  return grads;
}

Tensor normalize(NormKind kind, const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  detail::check_floating(op, x);
  if (x.dim() < 1) detail::op_error(op, "input must have at least one dim");
  const int64_t D = x.shape().back();
  for (const Tensor* p : {&weight, &bias}) {
    if (!p->defined()) continue;
    detail::check_same_dtype(op, x, *p);
    if (p->device() != x.device())
      detail::op_error(op, "parameter on " + p->device().str() + ", input on " + x.device().str());
    if (p->dim() != 1 || p->shape()[0] != D)
      detail::op_error(op, "parameter " + shape_str(p->shape()) + " does not match the last dim of input " +
                               shape_str(x.shape()));
  }
  const profiler::OpRange range(op, [&] { return op_cost::norm(kind == NormKind::Rms, x, weight, bias); });
  auto stats = std::make_shared<NormStats>();
  Tensor y;
  if (!x.device().is_cpu())
    y = device_norm_forward(kind, op, x, weight, bias, eps, *stats);
  else
    y = detail::dispatch_compute(x.dtype(),
                                 [&](auto tag) { return norm_forward<decltype(tag)>(kind, x, weight, bias, eps, *stats); });
  if (y.dtype() != x.dtype()) y = convert(y, x.dtype());
  const bool has_bias = bias.defined();
  autograd::record(op, {x, weight, bias}, {y}, [kind, op, x, weight, stats, has_bias](const std::vector<Tensor>& g) {
    if (!x.device().is_cpu()) return device_norm_backward(kind, op, x, weight, g[0], *stats, has_bias);
    std::vector<Tensor> grads = detail::dispatch_compute(
        x.dtype(), [&](auto tag) { return norm_backward<decltype(tag)>(kind, x, weight, g[0], *stats, has_bias); });
    for (Tensor& t : grads)
      if (t.defined() && t.dtype() != x.dtype()) t = convert(t, x.dtype());
    return grads;
  });
  return y;
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  return normalize(NormKind::Layer, "layer_norm", x, weight, bias, eps);
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps) {
  return normalize(NormKind::Rms, "rms_norm", x, weight, Tensor(), eps);
}

}  // namespace emrrg
