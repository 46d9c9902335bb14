#include "ops/shape.h"

#include <limits>
#include <numeric>

#include "autograd/tape.h"
#include "ops/kernel_util.h"
#include "ops/reduce.h"
#include "runtime/view.h"

namespace emrrg {

namespace {
// The gradient of a view: zeros in the input's shape with g written through the same view.
template <typename ViewFn> Tensor scatter_through_view(const Tensor& g, const Shape& input_shape, DType dtype, ViewFn view) {
  Tensor gx = zeros(input_shape, dtype, g.device());
  copy_into(view(gx), g);
  return gx;
}
}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  auto v = views::try_reshape(x, shape);
  Tensor y = v ? *v : *views::try_reshape(to_contiguous(x), shape);
  const Shape xs = x.shape();
  autograd::record("reshape", {x}, {y}, [xs](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{reshape(g[0], xs)};
  });
  return y;
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  const int64_t s = views::wrap_dim(start_dim, x.dim(), "flatten");
  const int64_t e = views::wrap_dim(end_dim, x.dim(), "flatten");
  Shape shape;
  for (int64_t d = 0; d < s; ++d) shape.push_back(x.shape()[d]);
  int64_t n = 1;
  for (int64_t d = s; d <= e; ++d) n *= x.shape()[d];
  shape.push_back(n);
  for (int64_t d = e + 1; d < x.dim(); ++d) shape.push_back(x.shape()[d]);
  return reshape(x, shape);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  Tensor y = views::permute(x, dims);
  std::vector<int64_t> inverse(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) inverse[views::wrap_dim(dims[i], x.dim(), "permute")] = static_cast<int64_t>(i);
  autograd::record("permute", {x}, {y}, [inverse](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{permute(g[0], inverse)};
  });
  return y;
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  Tensor y = views::transpose(x, d0, d1);
  autograd::record("transpose", {x}, {y}, [d0, d1](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{transpose(g[0], d0, d1)};
  });
  return y;
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  Tensor y = views::slice(x, dim, start, end, step);
  const Shape xs = x.shape();
  const DType dt = x.dtype();
  autograd::record("slice", {x}, {y}, [=](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{
        scatter_through_view(g[0], xs, dt, [&](const Tensor& t) { return views::slice(t, dim, start, end, step); })};
  });
  return y;
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  views::narrow(x, dim, start, length);  // validates the range
  return slice(x, dim, start, start + length);
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  Tensor y = views::select(x, dim, index);
  const Shape xs = x.shape();
  const DType dt = x.dtype();
  autograd::record("select", {x}, {y}, [=](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{
        scatter_through_view(g[0], xs, dt, [&](const Tensor& t) { return views::select(t, dim, index); })};
  });
  return y;
}

Tensor expand(const Tensor& x, const Shape& shape) {
  Tensor y = views::expand(x, shape);
  const Shape xs = x.shape();
  autograd::record("expand", {x}, {y}, [xs](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{sum_to_shape(g[0], xs)};
  });
  return y;
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  Tensor y = views::squeeze(x, dim);
  const Shape xs = x.shape();
  autograd::record("squeeze", {x}, {y}, [xs](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{reshape(g[0], xs)};
  });
  return y;
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  Tensor y = views::unsqueeze(x, dim);
  const Shape xs = x.shape();
  autograd::record("unsqueeze", {x}, {y}, [xs](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{reshape(g[0], xs)};
  });
  return y;
}

Tensor flip(const Tensor& x, const std::vector<int64_t>& dims) {
  Tensor y = views::flip(x, dims);
  autograd::record("flip", {x}, {y}, [dims](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{flip(g[0], dims)};
  });
  return y;
}

Tensor as_strided(const Tensor& x, const Shape& shape, const Strides& strides, int64_t offset) {
  if (!x.is_contiguous()) detail::op_error("as_strided", "input must be contiguous, got strides " + shape_str(x.strides()));
  if (offset < 0) detail::op_error("as_strided", "negative offset " + std::to_string(offset));
  if (shape.size() != strides.size())
    detail::op_error("as_strided", "shape " + shape_str(shape) + " and strides " + shape_str(strides) + " differ in rank");
  // Offsets are relative to x's first element and the view must stay inside x.
  int64_t lo = offset, hi = offset;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] > 0) (strides[i] < 0 ? lo : hi) += (shape[i] - 1) * strides[i];
  if (shape_numel(shape) > 0 && (lo < 0 || hi >= x.numel()))
    detail::op_error("as_strided", "view " + shape_str(shape) + " strides " + shape_str(strides) + " offset " +
                                       std::to_string(offset) + " reaches outside an input of " +
                                       std::to_string(x.numel()) + " elements");
  Tensor y = views::as_strided(x, shape, strides, x.offset() + offset);
  const Shape xs = x.shape();
  autograd::record("as_strided", {x}, {y}, [=](const std::vector<Tensor>& g) {
    // Sequential accumulation: overlapping views send several gradients to one element.
    Tensor acc = zeros({shape_numel(xs)}, DType::Float64);
    Tensor g64 = convert(to_contiguous(g[0]), DType::Float64);
    double* a = acc.data<double>();
    const double* gp = g64.data<double>();
    const Strides gs = contiguous_strides(shape);
    strided_for_each<2>(
        shape, {&strides, &gs}, {offset, 0},
        [&](const int64_t* off, int64_t n, const int64_t* st) {
          for (int64_t i = 0; i < n; ++i) a[off[0] + i * st[0]] += gp[off[1] + i * st[1]];
        },
        std::numeric_limits<int64_t>::max());
    return std::vector<Tensor>{reshape(convert(acc, g[0].dtype()), xs)};
  });
  return y;
}

Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  Tensor y = to_contiguous(x);
  autograd::record("contiguous", {x}, {y}, [](const std::vector<Tensor>& g) { return std::vector<Tensor>{g[0]}; });
  return y;
}

Tensor detach(const Tensor& x) { return make_view(x, x.shape(), x.strides(), x.offset()); }

Tensor cast(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor y = convert(x, dtype);
  const DType from = x.dtype();
  if (is_floating(dtype))
    autograd::record("cast", {x}, {y}, [from](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{convert(g[0], from)};
    });
  return y;
}

}  // namespace emrrg
