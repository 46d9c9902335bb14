// Layer norm and RMSNorm over the last dim: one warp (short rows) or one block (long rows)
// per row for the forward and the input gradient; the weight and bias gradients are column
// sums over rows, done in two deterministic passes (per-chunk partials, then a fixed-order
// sum of the chunks) instead of float atomics. CPU reference: ops/norm.cpp.
#include "cuda/kernels/norm.h"

#include "cuda/kernels/row_reduce.h"

namespace emrrg::cuda {

namespace {

using rows::load;
using rows::ptr;
using rows::to_storage;

// y[r, :] = (x - mean) * rstd, rounded to S for RMSNorm (mean 0 there), * weight + bias;
// mean[r] and rstd[r] kept for the backward. Two passes for the statistics (mean, then the
// squared deviations) avoid the cancellation of E[x^2] - mean^2.
// x, y: [rows, D]; w, b: [D] or null; mean, rstd: [rows]
template <typename S, bool kRms, bool kWarp>
__global__ void norm_forward_kernel(const S* x, const S* w, const S* b, S* y, float* mean, float* rstd, int64_t n_rows,
                                    int64_t D, float eps) {
  const int64_t r = rows::this_row<kWarp>();
  if (r >= n_rows) return;  // a whole warp (warp rows) or a whole block (block rows)
  const S* xr = x + r * D;
  S* yr = y + r * D;
  float mu = 0.0f;
  if constexpr (!kRms) {
    float acc = 0.0f;
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) acc += load(xr + j);
    mu = rows::row_reduce<kWarp>(acc, rows::Sum{}, 0.0f) / static_cast<float>(D);
  }
  float ss = 0.0f;
  for (int64_t j = threadIdx.x; j < D; j += blockDim.x) {
    const float d = load(xr + j) - mu;
    ss += d * d;
  }
  const float rs = 1.0f / sqrtf(rows::row_reduce<kWarp>(ss, rows::Sum{}, 0.0f) / static_cast<float>(D) + eps);
  if (threadIdx.x == 0) {
    mean[r] = mu;
    rstd[r] = rs;
  }
  for (int64_t j = threadIdx.x; j < D; j += blockDim.x) {
    float v = (load(xr + j) - mu) * rs;
    if constexpr (kRms) v = rows::to_float(to_storage<S>(v));  // Hugging Face rounds before the weight
    if (w) v *= load(w + j);
    if (b) v += load(b + j);
    yr[j] = to_storage<S>(v);
  }
}

// gx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) with dxhat = g * weight and
// xhat = (x - mean) * rstd; mean(dxhat) drops out for RMSNorm, which subtracts no mean.
// x, g, gx: [rows, D]; w: [D] or null; mean, rstd: [rows]
template <typename S, bool kRms, bool kWarp>
__global__ void norm_backward_kernel(const S* x, const S* w, const S* g, const float* mean, const float* rstd, S* gx,
                                     int64_t n_rows, int64_t D) {
  const int64_t r = rows::this_row<kWarp>();
  if (r >= n_rows) return;
  const S* xr = x + r * D;
  const S* gr = g + r * D;
  S* gxr = gx + r * D;
  const float mu = mean[r], rs = rstd[r];
  float2 acc = make_float2(0.0f, 0.0f);  // (sum dxhat, sum dxhat * xhat)
  for (int64_t j = threadIdx.x; j < D; j += blockDim.x) {
    const float dxhat = load(gr + j) * (w ? load(w + j) : 1.0f);
    const float xhat = (load(xr + j) - mu) * rs;
    acc.x += dxhat;
    acc.y += dxhat * xhat;
  }
  acc = rows::row_reduce<kWarp>(acc, rows::Sum{}, make_float2(0.0f, 0.0f));
  const float mean_dxhat = kRms ? 0.0f : acc.x / static_cast<float>(D);
  const float mean_dxhat_xhat = acc.y / static_cast<float>(D);
  for (int64_t j = threadIdx.x; j < D; j += blockDim.x) {
    const float dxhat = load(gr + j) * (w ? load(w + j) : 1.0f);
    const float xhat = (load(xr + j) - mu) * rs;
    gxr[j] = to_storage<S>(rs * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat));
  }
}

// The parameter-gradient tile: 32 columns (one per lane, so a warp reads 32 consecutive
// elements of a row) by 8 threads striding the rows of a chunk.
constexpr int kParamCols = 32;
constexpr int kParamRowThreads = 8;
constexpr int64_t kMaxChunks = 64;

// First pass: partial column sums over the rows [chunk * rows_per_chunk, +rows_per_chunk),
// chunk = blockIdx.y:  dw_part[chunk, i] = sum g[r, i] * xhat[r, i],  db_part[chunk, i] = sum g[r, i].
// block (32, 8), grid (ceil(D / 32), chunks).  x, g: [rows, D]; mean, rstd: [rows]; parts: [chunks, D]
template <typename S>
__global__ void norm_param_partials_kernel(const S* x, const S* g, const float* mean, const float* rstd, float* dw_part,
                                           float* db_part, int64_t n_rows, int64_t D, int64_t rows_per_chunk) {
  EMRRG_SHARED(float2, tile, kParamRowThreads * kParamCols);
  const int64_t i = int64_t{blockIdx.x} * kParamCols + threadIdx.x;
  const int64_t begin = int64_t{blockIdx.y} * rows_per_chunk;
  const int64_t end = std::min(n_rows, begin + rows_per_chunk);
  float2 acc = make_float2(0.0f, 0.0f);
  if (i < D) {
    for (int64_t r = begin + threadIdx.y; r < end; r += kParamRowThreads) {
      const float gv = load(g + r * D + i);
      acc.x += gv * ((load(x + r * D + i) - mean[r]) * rstd[r]);
      acc.y += gv;
    }
  }
  tile[threadIdx.y * kParamCols + threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && i < D) {
    for (int k = 1; k < kParamRowThreads; ++k) acc = rows::Sum{}(acc, tile[k * kParamCols + threadIdx.x]);
    dw_part[blockIdx.y * D + i] = acc.x;
    db_part[blockIdx.y * D + i] = acc.y;
  }
}

// Second pass: dw[i] = sum over chunks of dw_part[chunk, i] in chunk order, db likewise.
// parts: [chunks, D]; dw, db: [D] or null
template <typename S>
__global__ void norm_param_sums_kernel(const float* dw_part, const float* db_part, S* dw, S* db, int64_t chunks, int64_t D) {
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < D; i += int64_t{gridDim.x} * blockDim.x) {
    float sw = 0.0f, sb = 0.0f;
    for (int64_t c = 0; c < chunks; ++c) {
      sw += dw_part[c * D + i];
      sb += db_part[c * D + i];
    }
    if (dw) dw[i] = to_storage<S>(sw);
    if (db) db[i] = to_storage<S>(sb);
  }
}

void check_param(const char* op, const Tensor& p, const Tensor& x) {
  if (!p.defined()) return;
  const int64_t D = x.shape()[1];
  if (p.device() != x.device() || p.dtype() != x.dtype() || p.shape() != Shape{D} || !p.is_contiguous())
    throw std::invalid_argument(std::string(op) + ": parameter " + p.str() + " does not match input " + x.str());
}

void check_rows(const char* op, const Tensor& t) {
  rows::check_cuda_floating(op, t);
  if (t.dim() != 2 || !t.is_contiguous()) throw std::invalid_argument(std::string(op) + ": needs a contiguous [rows, D], got " + t.str());
}

}  // namespace

std::vector<Tensor> norm_rows(bool rms, const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = rms ? "rms_norm" : "layer_norm";
  check_rows(op, x);
  check_param(op, weight, x);
  check_param(op, bias, x);
  const int64_t n_rows = x.shape()[0], D = x.shape()[1];
  Tensor y = empty(x.shape(), x.dtype(), x.device());
  Tensor mean = empty({n_rows}, DType::Float32, x.device());
  Tensor rstd = empty({n_rows}, DType::Float32, x.device());
  if (y.numel() == 0) return {y, mean, rstd};
  const rows::RowLaunch l = rows::row_launch(op, n_rows, D);
  rows::dispatch_storage(x.dtype(), [&](auto s) {
    using S = decltype(s);
    rows::dispatch_bools(rms, l.warp_per_row, [&](auto rms_tag, auto warp_tag) {
      constexpr bool kRms = decltype(rms_tag)::value, kWarp = decltype(warp_tag)::value;
      EMRRG_LAUNCH((norm_forward_kernel<S, kRms, kWarp>), l.grid, l.block, 0, nullptr, ptr<const S>(x),
                   ptr<const S>(weight), ptr<const S>(bias), ptr<S>(y), ptr<float>(mean), ptr<float>(rstd), n_rows, D,
                   static_cast<float>(eps));
    });
  });
  return {y, mean, rstd};
}

std::vector<Tensor> norm_rows_backward(bool rms, const Tensor& x, const Tensor& weight, const Tensor& g,
                                       const Tensor& mean, const Tensor& rstd, bool with_bias) {
  const char* op = rms ? "rms_norm backward" : "layer_norm backward";
  check_rows(op, x);
  check_rows(op, g);
  check_param(op, weight, x);
  if (g.shape() != x.shape() || g.dtype() != x.dtype())
    throw std::invalid_argument(std::string(op) + ": gradient " + g.str() + " does not match input " + x.str());
  const int64_t n_rows = x.shape()[0], D = x.shape()[1];
  std::vector<Tensor> out{empty(x.shape(), x.dtype(), x.device()), Tensor(), Tensor()};
  if (weight.defined()) out[1] = empty({D}, x.dtype(), x.device());
  if (with_bias) out[2] = empty({D}, x.dtype(), x.device());
  if (D == 0) return out;
  if (n_rows == 0) {  // a sum over no rows
    for (int k = 1; k < 3; ++k)
      if (out[k].defined()) fill(out[k], 0.0);
    return out;
  }
  const rows::RowLaunch l = rows::row_launch(op, n_rows, D);
  rows::dispatch_storage(x.dtype(), [&](auto s) {
    using S = decltype(s);
    rows::dispatch_bools(rms, l.warp_per_row, [&](auto rms_tag, auto warp_tag) {
      constexpr bool kRms = decltype(rms_tag)::value, kWarp = decltype(warp_tag)::value;
      EMRRG_LAUNCH((norm_backward_kernel<S, kRms, kWarp>), l.grid, l.block, 0, nullptr, ptr<const S>(x),
                   ptr<const S>(weight), ptr<const S>(g), ptr<const float>(mean), ptr<const float>(rstd), ptr<S>(out[0]),
                   n_rows, D);
    });
    if (!out[1].defined() && !out[2].defined()) return;
    // Chunks of about 64 rows, at most kMaxChunks of them: enough blocks to fill a GPU even
    // for short parameter vectors, and a short second pass.
    const int64_t chunks = std::clamp<int64_t>((n_rows + 63) / 64, 1, kMaxChunks);
    const int64_t rows_per_chunk = (n_rows + chunks - 1) / chunks;
    Tensor dw_part = empty({chunks, D}, DType::Float32, x.device());
    Tensor db_part = empty({chunks, D}, DType::Float32, x.device());
    const dim3 grid(static_cast<unsigned>((D + kParamCols - 1) / kParamCols), static_cast<unsigned>(chunks));
    EMRRG_LAUNCH(norm_param_partials_kernel<S>, grid, dim3(kParamCols, kParamRowThreads), 0, nullptr, ptr<const S>(x),
                 ptr<const S>(g), ptr<const float>(mean), ptr<const float>(rstd), ptr<float>(dw_part),
                 ptr<float>(db_part), n_rows, D, rows_per_chunk);
    const unsigned sum_grid = static_cast<unsigned>(std::min<int64_t>((D + 255) / 256, 4096));
    EMRRG_LAUNCH(norm_param_sums_kernel<S>, dim3(sum_grid), dim3(256), 0, nullptr, ptr<const float>(dw_part),
                 ptr<const float>(db_part), ptr<S>(out[1]), ptr<S>(out[2]), chunks, D);
  });
  return out;
}

}  // namespace emrrg::cuda
