// Indexing kernels: index_select / embedding rows and gather, forward and backward. The
// backward kernels never use float atomics: every destination element is summed by exactly one
// thread, over its sources in ascending index order, in float32 — the CPU's order and
// precision — so gradients are reproducible and equal the CPU's. CPU reference:
// ops/indexing.cpp.
#include "cuda/kernels/indexing.h"

#include "cuda/kernels/storage.h"
#include "runtime/view.h"

namespace emrrg::cuda {

namespace {

using storage::kBlock;
using storage::load;
using storage::ptr;
using storage::to_storage;

constexpr int kMaxDims = 8;
// Destination rows owned by one block of index_add_kernel; each block scans the whole index,
// so more rows per block means fewer scans, fewer rows means more blocks in flight.
constexpr int64_t kRowsPerTile = 32;

// out[o, j, i] = x[o, index[j], i]; raw elements of any dtype.
//   x: [pre, n, post] contiguous, index: [m], out: [pre, m, post]
template <typename E, typename I>
__global__ void index_select_kernel(const E* x, const I* index, E* out, int64_t total, int64_t n, int64_t m,
                                    int64_t post) {
  for (int64_t e = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; e < total; e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t i = e % post, j = (e / post) % m, o = e / (post * m);
    out[e] = x[(o * n + static_cast<int64_t>(index[j])) * post + i];
  }
}

// acc[o, r, i] = sum over ascending j with index[j] == r of g[o, j, i], in float32.
//   g: [pre, m, post] contiguous, index: [m], acc: [pre, n, post]
// A tile is (o, kRowsPerTile destination rows, blockDim.x columns) and belongs to one block, in
// which thread x owns column x: no two threads ever write the same element. The block stages
// the index through shared memory a blockDim.x chunk at a time.
template <typename S, typename I>
__global__ void index_add_kernel(const S* g, const I* index, float* acc, int64_t m, int64_t n, int64_t post,
                                 int64_t row_tiles, int64_t col_tiles, int64_t tiles) {
  EMRRG_SHARED(int64_t, chunk, kBlock);
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const int64_t ct = t % col_tiles, rt = (t / col_tiles) % row_tiles, o = t / (col_tiles * row_tiles);
    const int64_t i = ct * blockDim.x + threadIdx.x;
    const int64_t r0 = rt * kRowsPerTile, r1 = std::min(n, r0 + kRowsPerTile);
    const bool owns_column = i < post;
    float* dst = acc + o * n * post + i;
    const S* src = g + o * m * post + i;
    if (owns_column)
      for (int64_t r = r0; r < r1; ++r) dst[r * post] = 0.0f;
    for (int64_t j0 = 0; j0 < m; j0 += blockDim.x) {
      const int64_t len = std::min<int64_t>(blockDim.x, m - j0);
      if (threadIdx.x < len) chunk[threadIdx.x] = static_cast<int64_t>(index[j0 + threadIdx.x]);
      __syncthreads();
      if (owns_column)
        for (int64_t k = 0; k < len; ++k) {
          const int64_t r = chunk[k];
          if (r >= r0 && r < r1) dst[r * post] += load(src + (j0 + k) * post);
        }
      __syncthreads();  // the chunk is overwritten next
    }
  }
}

// Shapes of gather: the index (= output) shape, x's shape and strides, the gathered dim.
struct GatherGeometry {
  int nd;
  int dim;
  int64_t index_numel, x_numel;
  int64_t index_shape[kMaxDims];
  int64_t x_shape[kMaxDims];
  int64_t x_strides[kMaxDims];
};

// out[e] = x[coords(e) with coordinate dim replaced by index[e]]
//   index, out: index_shape (contiguous), x: x_shape with x_strides
template <typename E, typename I>
__global__ void gather_kernel(GatherGeometry geo, const E* x, const I* index, E* out) {
  for (int64_t e = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; e < geo.index_numel;
       e += int64_t{gridDim.x} * blockDim.x) {
    int64_t rest = e, off = 0;
    for (int d = geo.nd - 1; d >= 0; --d) {
      const int64_t c = rest % geo.index_shape[d];
      rest /= geo.index_shape[d];
      off += (d == geo.dim ? static_cast<int64_t>(index[e]) : c) * geo.x_strides[d];
    }
    out[e] = x[off];
  }
}

// gx[p] = sum over ascending j of g[q_j] where index[q_j] == p[dim], q_j being p's coordinates
// with dim set to j (zero where p lies outside the index shape in another dim). One thread per
// element of gx, so O(x numel * index extent along dim).
//   g, index: index_shape (contiguous), gx: x_shape (contiguous)
template <typename S, typename I>
__global__ void gather_backward_kernel(GatherGeometry geo, const S* g, const I* index, S* gx) {
  for (int64_t p = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; p < geo.x_numel;
       p += int64_t{gridDim.x} * blockDim.x) {
    int64_t rest = p, base = 0, stride = 1, dim_stride = 1, target = 0;
    bool inside = true;
    for (int d = geo.nd - 1; d >= 0; --d) {
      const int64_t c = rest % geo.x_shape[d];
      rest /= geo.x_shape[d];
      if (d == geo.dim) {
        target = c;
        dim_stride = stride;
      } else {
        inside = inside && c < geo.index_shape[d];
        base += c * stride;
      }
      stride *= geo.index_shape[d];
    }
    float acc = 0.0f;
    if (inside)
      for (int64_t j = 0, q = base; j < geo.index_shape[geo.dim]; ++j, q += dim_stride)
        if (static_cast<int64_t>(index[q]) == target) acc += load(g + q);
    gx[p] = to_storage<S>(acc);
  }
}

// Calls fn(I{}) with the element type of an int32 or int64 index tensor.
template <typename Fn> void dispatch_index(const char* op, const Tensor& index, Fn&& fn) {
  if (index.dtype() == DType::Int64) fn(int64_t{});
  else if (index.dtype() == DType::Int32) fn(int32_t{});
  else throw std::invalid_argument(std::string(op) + ": index must be int32 or int64, got " + index.str());
}

// Calls fn(E{}) with an unsigned type of the tensor's element size, for raw element copies.
template <typename Fn> void dispatch_raw(const Tensor& t, Fn&& fn) {
  switch (t.element_size()) {
    case 1: fn(uint8_t{}); break;
    case 2: fn(uint16_t{}); break;
    case 4: fn(uint32_t{}); break;
    default: fn(uint64_t{}); break;
  }
}

// The index on x's device, contiguous.
Tensor device_index(const Tensor& index, const Tensor& x) {
  return to_contiguous(index.device() == x.device() ? index : to_device(index, x.device()));
}

struct Around {
  int64_t pre = 1, n = 1, post = 1;
};
Around around(const Shape& s, int64_t dim) {
  Around a;
  for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d) (d < dim ? a.pre : d == dim ? a.n : a.post) *= s[d];
  return a;
}

GatherGeometry gather_geometry(const char* op, const Shape& index_shape, const Shape& x_shape, const Strides& x_strides,
                               int64_t dim) {
  if (index_shape.size() > kMaxDims)
    throw std::invalid_argument(std::string(op) + ": more than " + std::to_string(kMaxDims) + " dims in " +
                                shape_str(index_shape));
  GatherGeometry geo{};
  geo.nd = static_cast<int>(index_shape.size());
  geo.dim = static_cast<int>(dim);
  geo.index_numel = shape_numel(index_shape);
  geo.x_numel = shape_numel(x_shape);
  for (int d = 0; d < geo.nd; ++d) {
    geo.index_shape[d] = index_shape[d];
    geo.x_shape[d] = x_shape[d];
    geo.x_strides[d] = x_strides[d];
  }
  return geo;
}

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  storage::check_cuda("index_select", x);
  Tensor c = to_contiguous(x);
  Tensor idx = device_index(index, x);
  const Around a = around(c.shape(), dim);
  const int64_t m = idx.numel();
  Shape out_shape = c.shape();
  out_shape[dim] = m;
  Tensor out = empty(out_shape, c.dtype(), c.device());
  const int64_t total = out.numel();
  if (total == 0) return out;
  dispatch_index("index_select", idx, [&](auto itag) {
    using I = decltype(itag);
    dispatch_raw(c, [&](auto etag) {
      using E = decltype(etag);
      EMRRG_LAUNCH((index_select_kernel<E, I>), dim3(storage::grid_for(total)), dim3(kBlock), 0, nullptr, ptr<E>(c),
                   ptr<I>(idx), ptr<E>(out), total, a.n, m, a.post);
    });
  });
  return out;
}

Tensor index_add(const Tensor& g, const Shape& x_shape, int64_t dim, const Tensor& index) {
  storage::check_cuda_floating("index_select backward", g);
  Tensor gc = to_contiguous(g);
  Tensor idx = device_index(index, g);
  const Around a = around(x_shape, dim);
  const int64_t m = idx.numel();
  Tensor acc = empty(x_shape, DType::Float32, g.device());
  if (acc.numel() == 0) return convert(acc, g.dtype());
  // Short rows (index_select along a trailing dim) get one warp of columns, long rows a block.
  const int threads = static_cast<int>(std::clamp<int64_t>((a.post + 31) / 32 * 32, 32, kBlock));
  const int64_t row_tiles = (a.n + kRowsPerTile - 1) / kRowsPerTile, col_tiles = (a.post + threads - 1) / threads;
  const int64_t tiles = a.pre * row_tiles * col_tiles;
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>(tiles, 65535));
  dispatch_index("index_select backward", idx, [&](auto itag) {
    using I = decltype(itag);
    storage::dispatch_storage(gc.dtype(), [&](auto stag) {
      using S = decltype(stag);
      EMRRG_LAUNCH((index_add_kernel<S, I>), dim3(grid), dim3(threads), 0, nullptr, ptr<S>(gc), ptr<I>(idx),
                   ptr<float>(acc), m, a.n, a.post, row_tiles, col_tiles, tiles);
    });
  });
  return gc.dtype() == DType::Float32 ? acc : convert(acc, gc.dtype());
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  storage::check_cuda("gather", x);
  Tensor idx = device_index(index, x);
  const GatherGeometry geo = gather_geometry("gather", idx.shape(), x.shape(), x.strides(), dim);
  Tensor out = empty(idx.shape(), x.dtype(), x.device());
  if (out.numel() == 0) return out;
  // x's element [0, ...] lives at storage offset x.offset(): ptr() starts there.
  dispatch_index("gather", idx, [&](auto itag) {
    using I = decltype(itag);
    dispatch_raw(x, [&](auto etag) {
      using E = decltype(etag);
      EMRRG_LAUNCH((gather_kernel<E, I>), dim3(storage::grid_for(geo.index_numel)), dim3(kBlock), 0, nullptr, geo,
                   ptr<E>(x), ptr<I>(idx), ptr<E>(out));
    });
  });
  return out;
}

Tensor gather_backward(const Tensor& g, const Shape& x_shape, int64_t dim, const Tensor& index) {
  storage::check_cuda_floating("gather backward", g);
  Tensor gc = to_contiguous(g);
  Tensor idx = device_index(index, g);
  const GatherGeometry geo = gather_geometry("gather backward", idx.shape(), x_shape, contiguous_strides(x_shape), dim);
  Tensor gx = empty(x_shape, gc.dtype(), gc.device());
  if (gx.numel() == 0) return gx;
  dispatch_index("gather backward", idx, [&](auto itag) {
    using I = decltype(itag);
    storage::dispatch_storage(gc.dtype(), [&](auto stag) {
      using S = decltype(stag);
      EMRRG_LAUNCH((gather_backward_kernel<S, I>), dim3(storage::grid_for(geo.x_numel)), dim3(kBlock), 0, nullptr, geo,
                   ptr<S>(gc), ptr<I>(idx), ptr<S>(gx));
    });
  });
  return gx;
}

}  // namespace emrrg::cuda
