#include "ops/indexing.h"

#include <cstring>

#include "autograd/tape.h"
#include "ops/device_kernels.h"
#include "ops/kernel_util.h"
#include "ops/shape.h"

namespace emrrg {

namespace {

std::vector<int64_t> read_indices(const char* op, const Tensor& index, int64_t limit) {
  if (index.dtype() != DType::Int64 && index.dtype() != DType::Int32)
    detail::op_error(op, std::string("index must be int32 or int64, got ") + dtype_name(index.dtype()));
  std::vector<int64_t> v = index.to_vector<int64_t>();
  for (int64_t i : v)
    if (i < 0 || i >= limit)
      detail::op_error(op, "index " + std::to_string(i) + " out of range [0, " + std::to_string(limit) + ")");
  return v;
}

// Views x as [outer, n, inner] around dim (after making it contiguous).
struct Around {
  int64_t outer = 1, n = 1, inner = 1;
};
Around around(const Shape& s, int64_t dim) {
  Around a;
  for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d)
    (d < dim ? a.outer : d == dim ? a.n : a.inner) *= s[d];
  return a;
}

// dst[o, idx[j], i] += src[o, j, i] for each j (the backward of index_select and embedding).
template <typename T>
void index_add_rows(T* dst, const T* src, const std::vector<int64_t>& idx, const Around& d_shape) {
  const int64_t m = static_cast<int64_t>(idx.size());
  for (int64_t o = 0; o < d_shape.outer; ++o)
    for (int64_t j = 0; j < m; ++j) {
      T* drow = dst + (o * d_shape.n + idx[j]) * d_shape.inner;
      const T* srow = src + (o * m + j) * d_shape.inner;
      for (int64_t i = 0; i < d_shape.inner; ++i) drow[i] += srow[i];
    }
}

// Element offset in a tensor with `strides` of each gathered position, in index order.
std::vector<int64_t> gather_offsets(const Shape& index_shape, const Strides& strides, int64_t base, int64_t dim,
                                    const std::vector<int64_t>& idx) {
  std::vector<int64_t> offsets(idx.size());
  std::vector<int64_t> coord(index_shape.size(), 0);
  for (size_t e = 0; e < idx.size(); ++e) {
    int64_t off = base;
    for (size_t d = 0; d < index_shape.size(); ++d)
      off += (static_cast<int64_t>(d) == dim ? idx[e] : coord[d]) * strides[d];
    offsets[e] = off;
    for (int64_t d = static_cast<int64_t>(index_shape.size()) - 1; d >= 0; --d) {
      if (++coord[d] < index_shape[d]) break;
      coord[d] = 0;
    }
  }
  return offsets;
}

Tensor index_select_kernel(const Tensor& x, int64_t dim, const std::vector<int64_t>& idx) {
  Tensor c = to_contiguous(x);
  const Around a = around(c.shape(), dim);
  Shape out_shape = c.shape();
  out_shape[dim] = static_cast<int64_t>(idx.size());
  Tensor out = empty(out_shape, c.dtype());
  const size_t es = c.element_size();
  const char* src = static_cast<const char*>(c.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  const int64_t m = static_cast<int64_t>(idx.size());
  const size_t row = static_cast<size_t>(a.inner) * es;
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t j = 0; j < m; ++j) std::memcpy(dst + (o * m + j) * row, src + (o * a.n + idx[j]) * row, row);
  return out;
}

Tensor index_add_kernel(const Tensor& g, const Shape& x_shape, int64_t dim, const std::vector<int64_t>& idx) {
  const DType ct = detail::compute_dtype(g.dtype());
  Tensor gc = to_contiguous(convert(g, ct));
  Tensor out = zeros(x_shape, ct);
  detail::dispatch_compute(ct, [&](auto tag) {
    using T = decltype(tag);
    index_add_rows<T>(out.data<T>(), gc.data<T>(), idx, around(x_shape, dim));
    return 0;
  });
  return out.dtype() == g.dtype() ? out : convert(out, g.dtype());
}

// Rows along dim picked by the (already checked) indices: a device kernel reading `index` on
// the device, or the CPU kernel reading the host copy `idx`.
Tensor select_rows(const Tensor& x, int64_t dim, const Tensor& index, const std::vector<int64_t>& idx) {
  if (!x.device().is_cpu()) return device_kernel("index_select", x, &DeviceKernels::index_select)(x, dim, index);
  return index_select_kernel(x, dim, idx);
}

// The backward of select_rows: g's rows summed into zeros of x_shape.
Tensor add_rows(const Tensor& g, const Shape& x_shape, int64_t dim, const Tensor& index,
                const std::vector<int64_t>& idx) {
  if (!g.device().is_cpu()) return device_kernel("index_select", g, &DeviceKernels::index_add)(g, x_shape, dim, index);
  return index_add_kernel(g, x_shape, dim, idx);
}


}  // namespace

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  if (xs.empty()) detail::op_error("cat", "no tensors");
  const Tensor& first = xs[0];
  dim = views::wrap_dim(dim, first.dim(), "cat");
  Shape out_shape = first.shape();
  out_shape[dim] = 0;
  for (const Tensor& x : xs) {
    bool same = x.dim() == first.dim();
    for (int64_t d = 0; same && d < x.dim(); ++d) same = d == dim || x.shape()[d] == first.shape()[d];
    if (!same) detail::op_error("cat", "shape " + shape_str(x.shape()) + " does not match " + shape_str(first.shape()) +
                                           " outside dim " + std::to_string(dim));
    detail::check_same_dtype("cat", first, x);
    out_shape[dim] += x.shape()[dim];
  }
  Tensor out = empty(out_shape, first.dtype(), first.device());
  std::vector<int64_t> starts;
  int64_t at = 0;
  for (const Tensor& x : xs) {
    starts.push_back(at);
    copy_into(views::narrow(out, dim, at, x.shape()[dim]), x);
    at += x.shape()[dim];
  }
  std::vector<int64_t> sizes;
  for (const Tensor& x : xs) sizes.push_back(x.shape()[dim]);
  autograd::record("cat", xs, {out}, [dim, starts, sizes](const std::vector<Tensor>& g) {
    std::vector<Tensor> gs;
    for (size_t i = 0; i < starts.size(); ++i) gs.push_back(views::narrow(g[0], dim, starts[i], sizes[i]));
    return gs;
  });
  return out;
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  if (xs.empty()) detail::op_error("stack", "no tensors");
  dim = views::wrap_dim(dim, xs[0].dim() + 1, "stack");
  std::vector<Tensor> us;
  for (const Tensor& x : xs) {
    if (x.shape() != xs[0].shape())
      detail::op_error("stack", "shape " + shape_str(x.shape()) + " differs from " + shape_str(xs[0].shape()));
    us.push_back(unsqueeze(x, dim));
  }
  return cat(us, dim);
}

std::vector<Tensor> split(const Tensor& x, int64_t size, int64_t dim) {
  if (size <= 0) detail::op_error("split", "size must be positive, got " + std::to_string(size));
  dim = views::wrap_dim(dim, x.dim(), "split");
  std::vector<Tensor> out;
  const int64_t n = x.shape()[dim];
  for (int64_t s = 0; s < n; s += size) out.push_back(narrow(x, dim, s, std::min(size, n - s)));
  return out;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  if (chunks <= 0) detail::op_error("chunk", "chunks must be positive, got " + std::to_string(chunks));
  const int64_t n = x.shape()[views::wrap_dim(dim, x.dim(), "chunk")];
  return split(x, std::max<int64_t>(1, (n + chunks - 1) / chunks), dim);
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  if (index.dim() != 1) detail::op_error("index_select", "index must be 1-D, got " + shape_str(index.shape()));
  dim = views::wrap_dim(dim, x.dim(), "index_select");
  const std::vector<int64_t> idx = read_indices("index_select", index, x.shape()[dim]);
  Tensor y = select_rows(x, dim, index, idx);
  const Shape xs = x.shape();
  autograd::record("index_select", {x}, {y}, [xs, dim, index, idx](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{add_rows(g[0], xs, dim, index, idx)};
  });
  return y;
}

Tensor embedding(const Tensor& weight, const Tensor& ids) {
  if (weight.dim() != 2) detail::op_error("embedding", "weight must be [V, D], got " + shape_str(weight.shape()));
  const std::vector<int64_t> idx = read_indices("embedding", ids, weight.shape()[0]);
  Tensor rows = select_rows(weight, 0, ids, idx);  // ids of any shape, read in order
  Shape out_shape = ids.shape();
  out_shape.push_back(weight.shape()[1]);
  Tensor y = *views::try_reshape(rows, out_shape);
  const Shape ws = weight.shape();
  autograd::record("embedding", {weight}, {y}, [ws, ids, idx](const std::vector<Tensor>& g) {
    Tensor g2 = reshape(g[0], {static_cast<int64_t>(idx.size()), ws[1]});
    return std::vector<Tensor>{add_rows(g2, ws, 0, ids, idx)};
  });
  return y;
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  detail::check_floating("gather", x);
  dim = views::wrap_dim(dim, x.dim(), "gather");
  if (index.dim() != x.dim())
    detail::op_error("gather", "index " + shape_str(index.shape()) + " must have the rank of input " + shape_str(x.shape()));
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d != dim && index.shape()[d] > x.shape()[d])
      detail::op_error("gather", "index " + shape_str(index.shape()) + " larger than input " + shape_str(x.shape()) +
                                     " in dim " + std::to_string(d));
  const std::vector<int64_t> idx = read_indices("gather", index, x.shape()[dim]);
  const Shape is = index.shape();
  const Shape xshape = x.shape();
  if (!x.device().is_cpu()) {
    Tensor y = device_kernel("gather", x, &DeviceKernels::gather)(x, dim, index);
    autograd::record("gather", {x}, {y}, [xshape, dim, index](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{
          device_kernel("gather", g[0], &DeviceKernels::gather_backward)(g[0], xshape, dim, index)};
    });
    return y;
  }
  const std::vector<int64_t> offsets = gather_offsets(is, x.strides(), x.offset(), dim, idx);
  Tensor y = empty(is, x.dtype());
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(x.storage()->data());
    T* dst = y.data<T>();
    for (size_t e = 0; e < offsets.size(); ++e) dst[e] = src[offsets[e]];
  });
  autograd::record("gather", {x}, {y}, [xshape, is, dim, idx](const std::vector<Tensor>& g) {
    const DType ct = detail::compute_dtype(g[0].dtype());
    Tensor gc = to_contiguous(convert(g[0], ct));
    Tensor gx = zeros(xshape, ct);
    const std::vector<int64_t> offs = gather_offsets(is, contiguous_strides(xshape), 0, dim, idx);
    detail::dispatch_compute(ct, [&](auto tag) {
      using T = decltype(tag);
      T* dst = gx.data<T>();
      const T* src = gc.data<T>();
      for (size_t e = 0; e < offs.size(); ++e) dst[offs[e]] += src[e];  // repeated indices accumulate
      return 0;
    });
    return std::vector<Tensor>{gx.dtype() == g[0].dtype() ? gx : convert(gx, g[0].dtype())};
  });
  return y;
}

}  // namespace emrrg
