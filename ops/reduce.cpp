#include "ops/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/tape.h"
#include "ops/device_kernels.h"
#include "ops/indexing.h"
#include "ops/kernel_util.h"
#include "ops/elementwise.h"
#include "ops/shape.h"

namespace emrrg {

namespace {
using detail::compute_dtype;
using detail::dispatch_compute;

struct ReducePlan {
  std::vector<bool> reduced;  // per input dim
  Shape kept_shape;           // output shape with keepdim
  Shape out_shape;            // output shape as requested
  int64_t rows = 1, row_len = 1;
};

ReducePlan plan_reduce(const char* op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  ReducePlan p;
  const int64_t r = x.dim();
  p.reduced.assign(static_cast<size_t>(r), dims.empty());
  for (int64_t d : dims) {
    const int64_t w = views::wrap_dim(d, r, op);
    if (r > 0) {
      if (p.reduced[w]) detail::op_error(op, "dim " + std::to_string(d) + " given twice");
      p.reduced[w] = true;
    }
  }
  for (int64_t d = 0; d < r; ++d) {
    p.kept_shape.push_back(p.reduced[d] ? 1 : x.shape()[d]);
    if (p.reduced[d]) {
      p.row_len *= x.shape()[d];
      if (keepdim) p.out_shape.push_back(1);
    } else {
      p.rows *= x.shape()[d];
      p.out_shape.push_back(x.shape()[d]);
    }
  }
  return p;
}

// The input, with reduced dims moved last, as a contiguous (rows, row_len) buffer of type T.
template <typename T> Tensor rows_of(const Tensor& x, const ReducePlan& p) {
  std::vector<int64_t> perm;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (!p.reduced[d]) perm.push_back(d);
  for (int64_t d = 0; d < x.dim(); ++d)
    if (p.reduced[d]) perm.push_back(d);
  Tensor v = x.dim() ? views::permute(x, perm) : x;
  Tensor c = empty(v.shape(), dtype_of<T>());
  copy_into(c, v);
  return c;
}

// out[r] = f(row r, row_len) for each row, in compute type T; returns float tensor of kept shape.
template <typename T, typename Out, typename F> Tensor reduce_rows(const Tensor& x, const ReducePlan& p, F f) {
  Tensor rows = rows_of<T>(x, p);
  const T* src = rows.data<T>();
  Tensor out = empty(p.out_shape, dtype_of<Out>());
  Out* o = out.data<Out>();
  const int64_t len = p.row_len;
  parallel_for(p.rows, std::max<int64_t>(1, 32768 / std::max<int64_t>(len, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) o[r] = f(src + r * len, len);
  });
  return out;
}

// g (reduced shape) broadcast back to x's shape.
Tensor expand_back(const Tensor& g, const ReducePlan& p, const Shape& x_shape) {
  return to_contiguous(views::expand(reshape(g, p.kept_shape), x_shape));
}

Tensor restore_dtype(const Tensor& y, DType want) { return y.dtype() == want ? y : convert(y, want); }
}  // namespace

namespace {
// Reductions on a device: reduced dims moved last and made contiguous there, as the
// [rows, row_len] input of a row kernel, whose [rows] result is reshaped to the output shape.
Tensor device_rows(const Tensor& x, const ReducePlan& p) {
  std::vector<int64_t> perm;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (!p.reduced[d]) perm.push_back(d);
  for (int64_t d = 0; d < x.dim(); ++d)
    if (p.reduced[d]) perm.push_back(d);
  Tensor rows = to_contiguous(x.dim() ? views::permute(x, perm) : x);
  return *views::try_reshape(rows, {p.rows, p.row_len});
}

Tensor device_sum(const Tensor& x, const ReducePlan& p) {
  Tensor y = device_kernel("sum", x, &DeviceKernels::sum_rows)(device_rows(x, p));
  return *views::try_reshape(y, p.out_shape);
}

Tensor device_var(const Tensor& x, const ReducePlan& p, double denom) {
  Tensor y = device_kernel("var", x, &DeviceKernels::var_rows)(device_rows(x, p), denom);
  return *views::try_reshape(y, p.out_shape);
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  detail::check_floating("sum", x);
  ReducePlan p = plan_reduce("sum", x, dims, keepdim);
  Tensor y = !x.device().is_cpu() ? device_sum(x, p) : dispatch_compute(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return reduce_rows<T, T>(x, p, [](const T* r, int64_t n) {
      double acc = 0;  // double accumulation keeps long float32 sums stable
      for (int64_t i = 0; i < n; ++i) acc += r[i];
      return static_cast<T>(acc);
    });
  });
  y = restore_dtype(y, x.dtype());
  const Shape xs = x.shape();
  autograd::record("sum", {x}, {y}, [p, xs](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{expand_back(g[0], p, xs)};
  });
  return y;
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  ReducePlan p = plan_reduce("mean", x, dims, keepdim);
  return div(sum(x, dims, keepdim), static_cast<double>(std::max<int64_t>(p.row_len, 1)));
}

Tensor var(const Tensor& x, const std::vector<int64_t>& dims, int64_t correction, bool keepdim) {
  detail::check_floating("var", x);
  ReducePlan p = plan_reduce("var", x, dims, keepdim);
  const double denom = static_cast<double>(p.row_len - correction);
  if (denom <= 0) detail::op_error("var", "reducing " + std::to_string(p.row_len) + " elements with correction " +
                                              std::to_string(correction));
  Tensor y = !x.device().is_cpu() ? device_var(x, p, denom) : dispatch_compute(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return reduce_rows<T, T>(x, p, [denom](const T* r, int64_t n) {
      double m = 0;
      for (int64_t i = 0; i < n; ++i) m += r[i];
      m /= static_cast<double>(n);
      double s = 0;
      for (int64_t i = 0; i < n; ++i) s += (r[i] - m) * (r[i] - m);
      return static_cast<T>(s / denom);
    });
  });
  y = restore_dtype(y, x.dtype());
  const Shape xs = x.shape();
  std::vector<int64_t> all_dims = dims;
  autograd::record("var", {x}, {y}, [x, p, xs, all_dims, denom](const std::vector<Tensor>& g) {
    // d var / dx = 2 (x - mean) / (N - correction)
    Tensor centered = sub(x, mean(x, all_dims, true));
    return std::vector<Tensor>{mul(mul(centered, expand_back(g[0], p, xs)), 2.0 / denom)};
  });
  return y;
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  ReducePlan p = plan_reduce("argmax", x, {dim}, keepdim);
  if (p.row_len == 0) detail::op_error("argmax", "empty dim in shape " + shape_str(x.shape()));
  if (!x.device().is_cpu())
    return *views::try_reshape(device_kernel("argmax", x, &DeviceKernels::argmax_rows)(device_rows(x, p)), p.out_shape);
  return dispatch_compute(compute_dtype(is_floating(x.dtype()) ? x.dtype() : DType::Float64), [&](auto tag) {
    using T = decltype(tag);
    return reduce_rows<T, int64_t>(x, p, [](const T* r, int64_t n) {
      int64_t best = 0;
      for (int64_t i = 1; i < n; ++i)
        if (r[i] > r[best] || (std::isnan(r[i]) && !std::isnan(r[best]))) best = i;
      return best;
    });
  });
}

Tensor max(const Tensor& x, int64_t dim, bool keepdim) {
  detail::check_floating("max", x);
  ReducePlan p = plan_reduce("max", x, {dim}, keepdim);
  Tensor idx = argmax(x, dim, true);
  const int64_t d = views::wrap_dim(dim, x.dim(), "max");
  Tensor y = gather(x, d, idx);
  if (!keepdim) y = squeeze(y, d);
  return y;
}

Tensor sum_to_shape(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  const int64_t lead = g.dim() - static_cast<int64_t>(shape.size());
  if (lead < 0) detail::op_error("sum_to_shape", "cannot reduce " + shape_str(g.shape()) + " to " + shape_str(shape));
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < g.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && g.shape()[d] != 1)) dims.push_back(d);
  Tensor s = dims.empty() ? g : sum(g, dims, true);
  return reshape(s, shape);
}

}  // namespace emrrg
