#include "runtime/view.h"

#include <stdexcept>

namespace emrrg::views {

int64_t wrap_dim(int64_t dim, int64_t rank, const char* op) {
  const int64_t r = rank > 0 ? rank : 1;
  if (dim < -r || dim >= r)
    throw std::out_of_range(std::string(op) + ": dim " + std::to_string(dim) + " out of range for rank " +
                            std::to_string(rank));
  return dim < 0 ? dim + r : dim;
}

Shape infer_shape(Shape shape, int64_t numel, const char* op) {
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw std::invalid_argument(std::string(op) + ": more than one -1 in " + shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else if (shape[i] < 0) {
      throw std::invalid_argument(std::string(op) + ": negative size in " + shape_str(shape));
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel % known != 0)
      throw std::invalid_argument(std::string(op) + ": cannot infer -1 in " + shape_str(shape) + " for " +
                                  std::to_string(numel) + " elements");
    shape[infer] = numel / known;
  } else if (known != numel) {
    throw std::invalid_argument(std::string(op) + ": shape " + shape_str(shape) + " is invalid for " +
                                std::to_string(numel) + " elements");
  }
  return shape;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw std::invalid_argument(std::string(op) + ": shapes " + shape_str(a) + " and " + shape_str(b) +
                                  " cannot be broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::optional<Tensor> try_reshape(const Tensor& t, const Shape& requested) {
  const Shape shape = infer_shape(requested, t.numel(), "reshape");
  if (t.is_contiguous()) return make_view(t, shape, contiguous_strides(shape), t.offset());
  // Split the old dims into maximal chunks that are contiguous among themselves; each new dim
  // must fall inside one chunk (the rule PyTorch's view uses).
  const Shape& os = t.shape();
  const Strides& ost = t.strides();
  Strides ns(shape.size());
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_base_stride = ost.empty() ? 1 : ost.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(os.size()) - 1; d >= 0; --d) {
    tensor_numel *= os[d];
    if (d == 0 || (os[d - 1] != 1 && ost[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        ns[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = ost[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return make_view(t, shape, ns, t.offset());
}

Tensor permute(const Tensor& t, const std::vector<int64_t>& dims) {
  const int64_t r = t.dim();
  if (static_cast<int64_t>(dims.size()) != r)
    throw std::invalid_argument("permute: " + std::to_string(dims.size()) + " dims for a tensor of shape " +
                                shape_str(t.shape()));
  Shape s(r);
  Strides st(r);
  std::vector<bool> seen(r, false);
  for (int64_t i = 0; i < r; ++i) {
    const int64_t d = wrap_dim(dims[i], r, "permute");
    if (seen[d]) throw std::invalid_argument("permute: dim " + std::to_string(d) + " repeated");
    seen[d] = true;
    s[i] = t.shape()[d];
    st[i] = t.strides()[d];
  }
  return make_view(t, s, st, t.offset());
}

Tensor transpose(const Tensor& t, int64_t d0, int64_t d1) {
  std::vector<int64_t> p(t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) p[i] = i;
  std::swap(p[wrap_dim(d0, t.dim(), "transpose")], p[wrap_dim(d1, t.dim(), "transpose")]);
  return permute(t, p);
}

Tensor slice(const Tensor& t, int64_t dim, int64_t start, int64_t end, int64_t step) {
  dim = wrap_dim(dim, t.dim(), "slice");
  if (step <= 0) throw std::invalid_argument("slice: step must be positive, got " + std::to_string(step));
  const int64_t n = t.shape()[dim];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape s = t.shape();
  Strides st = t.strides();
  s[dim] = (end - start + step - 1) / step;
  st[dim] *= step;
  return make_view(t, s, st, t.offset() + start * t.strides()[dim]);
}

Tensor narrow(const Tensor& t, int64_t dim, int64_t start, int64_t length) {
  dim = wrap_dim(dim, t.dim(), "narrow");
  if (start < 0 || length < 0 || start + length > t.shape()[dim])
    throw std::out_of_range("narrow: [" + std::to_string(start) + ", " + std::to_string(start + length) +
                            ") outside dim " + std::to_string(dim) + " of shape " + shape_str(t.shape()));
  return slice(t, dim, start, start + length);
}

Tensor select(const Tensor& t, int64_t dim, int64_t index) {
  dim = wrap_dim(dim, t.dim(), "select");
  const int64_t n = t.shape()[dim];
  if (index < -n || index >= n)
    throw std::out_of_range("select: index " + std::to_string(index) + " outside dim " + std::to_string(dim) +
                            " of shape " + shape_str(t.shape()));
  if (index < 0) index += n;
  Shape s = t.shape();
  Strides st = t.strides();
  const int64_t off = t.offset() + index * st[dim];
  s.erase(s.begin() + dim);
  st.erase(st.begin() + dim);
  return make_view(t, s, st, off);
}

Tensor expand(const Tensor& t, const Shape& shape) {
  if (shape.size() < t.shape().size())
    throw std::invalid_argument("expand: cannot expand " + shape_str(t.shape()) + " to " + shape_str(shape));
  const size_t lead = shape.size() - t.shape().size();
  Shape s(shape.size());
  Strides st(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      if (shape[i] < 0) throw std::invalid_argument("expand: -1 in a new leading dim of " + shape_str(shape));
      s[i] = shape[i];
      st[i] = 0;
      continue;
    }
    const int64_t src = t.shape()[i - lead];
    const int64_t want = shape[i] == -1 ? src : shape[i];
    if (src == want) {
      s[i] = src;
      st[i] = t.strides()[i - lead];
    } else if (src == 1) {
      s[i] = want;
      st[i] = 0;
    } else {
      throw std::invalid_argument("expand: cannot expand " + shape_str(t.shape()) + " to " + shape_str(shape));
    }
  }
  return make_view(t, s, st, t.offset());
}

Tensor squeeze(const Tensor& t, int64_t dim) {
  dim = wrap_dim(dim, t.dim(), "squeeze");
  if (t.dim() == 0 || t.shape()[dim] != 1) return t;
  Shape s = t.shape();
  Strides st = t.strides();
  s.erase(s.begin() + dim);
  st.erase(st.begin() + dim);
  return make_view(t, s, st, t.offset());
}

Tensor unsqueeze(const Tensor& t, int64_t dim) {
  dim = wrap_dim(dim, t.dim() + 1, "unsqueeze");
  Shape s = t.shape();
  Strides st = t.strides();
  const int64_t inner = dim < t.dim() ? st[dim] * s[dim] : 1;
  s.insert(s.begin() + dim, 1);
  st.insert(st.begin() + dim, inner);
  return make_view(t, s, st, t.offset());
}

Tensor flip(const Tensor& t, const std::vector<int64_t>& dims) {
  Strides st = t.strides();
  int64_t off = t.offset();
  for (int64_t d : dims) {
    d = wrap_dim(d, t.dim(), "flip");
    if (t.shape()[d] > 0) off += (t.shape()[d] - 1) * st[d];
    st[d] = -st[d];
  }
  return make_view(t, t.shape(), st, off);
}

Tensor as_strided(const Tensor& t, const Shape& shape, const Strides& strides, int64_t offset) {
  return make_view(t, shape, strides, offset);
}

}  // namespace emrrg::views
