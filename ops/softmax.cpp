#include "ops/softmax.h"

#include <cmath>
#include <limits>

#include "autograd/tape.h"
#include "ops/device_kernels.h"
#include "ops/elementwise.h"
#include "ops/kernel_util.h"
#include "ops/op_cost.h"
#include "ops/reduce.h"
#include "ops/shape.h"

namespace emrrg {

namespace {

// Row-wise (last dim) softmax or log-softmax of a contiguous copy in compute type T.
template <typename T> Tensor softmax_rows(const Tensor& x, bool log_space) {
  Tensor c = to_contiguous(convert(x, dtype_of<T>()));
  const int64_t n = c.dim() ? c.shape()[c.dim() - 1] : 1;
  const int64_t rows = n ? c.numel() / n : 0;
  Tensor y = empty(c.shape(), dtype_of<T>());
  const T* src = c.data<T>();
  T* dst = y.data<T>();
  parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const T* in = src + r * n;
      T* out = dst + r * n;
      T m = -std::numeric_limits<T>::infinity();
      for (int64_t i = 0; i < n; ++i) m = std::max(m, in[i]);
      T s = 0;
      for (int64_t i = 0; i < n; ++i) s += std::exp(in[i] - m);
      if (log_space) {
        const T lse = m + std::log(s);
        for (int64_t i = 0; i < n; ++i) out[i] = in[i] - lse;
      } else {
        for (int64_t i = 0; i < n; ++i) out[i] = std::exp(in[i] - m) / s;
      }
    }
  });
  return y;
}


// t (contiguous or made so) as [rows, last dim]; a scalar is one row of one.
Tensor as_rows(const Tensor& t) {
  const int64_t n = t.dim() ? t.shape().back() : 1;
  return *views::try_reshape(to_contiguous(t), {n ? t.numel() / n : 0, n});
}

// The device's kernels for softmax_last: rows of the last dim, forward and backward.
Tensor device_softmax(const char* op, const Tensor& x, bool log_space) {
  Tensor y = device_kernel(op, x, &DeviceKernels::softmax_rows)(as_rows(x), log_space);
  return *views::try_reshape(y, x.shape());
}
Tensor device_softmax_backward(const char* op, const Tensor& y, const Tensor& g, bool log_space) {
  Tensor gy = g.dtype() == y.dtype() ? g : convert(g, y.dtype());
  Tensor gx = device_kernel(op, y, &DeviceKernels::softmax_rows_backward)(as_rows(y), as_rows(gy), log_space);
  return *views::try_reshape(gx, y.shape());
}

Tensor softmax_last(const Tensor& x, bool log_space) {
  const char* op = log_space ? "log_softmax" : "softmax";
  detail::check_floating(op, x);
  const profiler::OpRange range(op, [&] { return op_cost::softmax(x); });
  Tensor y = !x.device().is_cpu()
                 ? device_softmax(op, x, log_space)
                 : detail::dispatch_compute(x.dtype(), [&](auto tag) { return softmax_rows<decltype(tag)>(x, log_space); });
  if (y.dtype() != x.dtype()) y = convert(y, x.dtype());
  autograd::record(op, {x}, {y}, [op, y, log_space](const std::vector<Tensor>& g) {
    if (!y.device().is_cpu()) return std::vector<Tensor>{device_softmax_backward(op, y, g[0], log_space)};
    if (log_space)  // g - softmax * sum(g)
      return std::vector<Tensor>{sub(g[0], mul(exp(y), sum(g[0], {-1}, true)))};
    return std::vector<Tensor>{mul(y, sub(g[0], sum(mul(g[0], y), {-1}, true)))};  // y (g - sum(g y))
  });
  return y;
}

// cross_entropy on the logits' device: logits as [N, C] rows, the target moved there if need be.
Tensor device_cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index, int64_t count) {
  Tensor l = as_rows(logits);
  Tensor t = to_contiguous(target.device() == logits.device() ? target : to_device(target, logits.device()));
  t = *views::try_reshape(t, {l.shape()[0]});
  const std::vector<Tensor> out =
      device_kernel("cross_entropy", logits, &DeviceKernels::cross_entropy_rows)(l, t, ignore_index, count);
  const Tensor lse = out[1];
  const Shape ls = logits.shape();
  autograd::record("cross_entropy", {logits}, {out[0]}, [l, t, lse, ignore_index, count, ls](const std::vector<Tensor>& g) {
    Tensor gx = device_kernel("cross_entropy", l, &DeviceKernels::cross_entropy_rows_backward)(l, t, lse, g[0],
                                                                                                ignore_index, count);
    return std::vector<Tensor>{*views::try_reshape(gx, ls)};
  });
  return out[0];
}

Tensor along_last(const Tensor& x, int64_t dim, bool log_space) {
  const int64_t d = views::wrap_dim(dim, x.dim(), log_space ? "log_softmax" : "softmax");
  if (x.dim() == 0 || d == x.dim() - 1) return softmax_last(x, log_space);
  return transpose(softmax_last(transpose(x, d, -1), log_space), d, -1);
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return along_last(x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return along_last(x, dim, true); }

Tensor cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index) {
  detail::check_floating("cross_entropy", logits);
  if (logits.dim() < 1) detail::op_error("cross_entropy", "logits must have a class dim, got a scalar");
  Shape lead(logits.shape().begin(), logits.shape().end() - 1);
  if (target.shape() != lead)
    detail::op_error("cross_entropy", "target " + shape_str(target.shape()) + " does not match logits " +
                                          shape_str(logits.shape()) + " without the class dim");
  if (target.dtype() != DType::Int64 && target.dtype() != DType::Int32)
    detail::op_error("cross_entropy", std::string("target must be int32 or int64, got ") + dtype_name(target.dtype()));
  const int64_t C = logits.shape().back();
  const std::vector<int64_t> t = target.to_vector<int64_t>();
  int64_t count = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == ignore_index) continue;
    if (t[i] < 0 || t[i] >= C)
      detail::op_error("cross_entropy", "target " + std::to_string(t[i]) + " at position " + std::to_string(i) +
                                            " out of range [0, " + std::to_string(C) + ")");
    ++count;
  }
  if (!logits.device().is_cpu()) return device_cross_entropy(logits, target, ignore_index, count);
  const DType ct = detail::compute_dtype(logits.dtype());
  Tensor logp = detail::dispatch_compute(ct, [&](auto tag) { return softmax_rows<decltype(tag)>(logits, true); });
  double total = 0;
  detail::dispatch_compute(ct, [&](auto tag) {
    using T = decltype(tag);
    const T* lp = logp.data<T>();
    for (size_t i = 0; i < t.size(); ++i)
      if (t[i] != ignore_index) total -= lp[static_cast<int64_t>(i) * C + t[i]];
    return 0;
  });
  const double loss = count ? total / static_cast<double>(count) : std::numeric_limits<double>::quiet_NaN();
  Tensor y = scalar_tensor(loss, logits.dtype());
  const Shape ls = logits.shape();
  const DType ldt = logits.dtype();
  autograd::record("cross_entropy", {logits}, {y}, [logp, t, count, ignore_index, C, ls, ldt](const std::vector<Tensor>& g) {
    // d loss / d logits = (softmax - onehot(target)) / count on rows whose target is kept.
    const double scale = g[0].item() / static_cast<double>(count);
    Tensor gx = empty(ls, logp.dtype());
    detail::dispatch_compute(logp.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* lp = logp.data<T>();
      T* o = gx.data<T>();
      for (size_t i = 0; i < t.size(); ++i) {
        T* row = o + static_cast<int64_t>(i) * C;
        const T* lrow = lp + static_cast<int64_t>(i) * C;
        if (t[i] == ignore_index) {
          for (int64_t c = 0; c < C; ++c) row[c] = 0;
          continue;
        }
        for (int64_t c = 0; c < C; ++c) row[c] = static_cast<T>(scale * std::exp(lrow[c]));
        row[t[i]] -= static_cast<T>(scale);
      }
      return 0;
    });
    return std::vector<Tensor>{gx.dtype() == ldt ? gx : convert(gx, ldt)};
  });
  return y;
}

}  // namespace emrrg
