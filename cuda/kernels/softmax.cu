// Softmax, log-softmax and cross-entropy over the last dim, one warp (short rows) or one
// block (long rows) per row, float32 statistics with the max subtracted before exp.
// CPU reference: ops/softmax.cpp.
#include "cuda/kernels/softmax.h"

#include "cuda/kernels/row_reduce.h"

namespace emrrg::cuda {

namespace {

using rows::kInf;
using rows::load;
using rows::ptr;
using rows::to_storage;

// The row's (max, sum of exp(x - max)) in one pass over it (online softmax).
template <typename S, bool kWarp> __device__ __forceinline__ float2 max_sum_exp(const S* xr, int64_t n) {
  float2 ms = make_float2(-kInf, 0.0f);
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) rows::add_to_max_sum_exp(ms, load(xr + j));
  return rows::row_reduce<kWarp>(ms, rows::MaxSumExp{}, make_float2(-kInf, 0.0f));
}

// y[r, :] = exp(x - max) / sum, or x - (max + log(sum)) for log-softmax.      x, y: [rows, n]
template <typename S, bool kLog, bool kWarp> __global__ void softmax_forward_kernel(const S* x, S* y, int64_t n_rows, int64_t n) {
  const int64_t r = rows::this_row<kWarp>();
  if (r >= n_rows) return;  // a whole warp (warp rows) or a whole block (block rows)
  const S* xr = x + r * n;
  S* yr = y + r * n;
  const float2 ms = max_sum_exp<S, kWarp>(xr, n);
  const float shift = kLog ? ms.x + logf(ms.y) : ms.x;  // log-softmax subtracts the log-sum-exp
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    const float v = load(xr + j);
    yr[j] = to_storage<S>(kLog ? v - shift : expf(v - shift) / ms.y);
  }
}

// softmax: gx = y (g - sum(g y)); log-softmax: gx = g - exp(y) sum(g).       y, g, gx: [rows, n]
template <typename S, bool kLog, bool kWarp>
__global__ void softmax_backward_kernel(const S* y, const S* g, S* gx, int64_t n_rows, int64_t n) {
  const int64_t r = rows::this_row<kWarp>();
  if (r >= n_rows) return;
  const S* yr = y + r * n;
  const S* gr = g + r * n;
  S* gxr = gx + r * n;
  float acc = 0.0f;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) acc += kLog ? load(gr + j) : load(gr + j) * load(yr + j);
  const float total = rows::row_reduce<kWarp>(acc, rows::Sum{}, 0.0f);
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    const float yv = load(yr + j), gv = load(gr + j);
    gxr[j] = to_storage<S>(kLog ? gv - expf(yv) * total : yv * (gv - total));
  }
}

// row_loss[r] = lse(logits[r, :]) - logits[r, target[r]], 0 on ignored rows, and lse[r] for
// the backward.                       logits: [rows, C], target: [rows], row_loss, lse: [rows]
template <typename S, typename I, bool kWarp>
__global__ void cross_entropy_forward_kernel(const S* logits, const I* target, float* row_loss, float* lse,
                                             int64_t n_rows, int64_t C, int64_t ignore_index) {
  const int64_t r = rows::this_row<kWarp>();
  if (r >= n_rows) return;
  const int64_t t = static_cast<int64_t>(target[r]);
  if (t == ignore_index) {  // uniform over the row's threads, so no reduction is left waiting
    if (threadIdx.x == 0) row_loss[r] = lse[r] = 0.0f;
    return;
  }
  const S* lr = logits + r * C;
  const float2 ms = max_sum_exp<S, kWarp>(lr, C);
  if (threadIdx.x == 0) {
    const float row_lse = ms.x + logf(ms.y);
    lse[r] = row_lse;
    row_loss[r] = row_lse - load(lr + t);
  }
}

// loss = sum(row_loss) / count (NaN when count is 0), summed by one block in a fixed order so
// the loss is the same on every run.                            row_loss: [rows], loss: []
template <typename S> __global__ void cross_entropy_mean_kernel(const float* row_loss, S* loss, int64_t n_rows, int64_t count) {
  float acc = 0.0f;
  for (int64_t r = threadIdx.x; r < n_rows; r += blockDim.x) acc += row_loss[r];
  const float total = rows::block_reduce(acc, rows::Sum{}, 0.0f);
  if (threadIdx.x == 0)
    *loss = to_storage<S>(count ? total / static_cast<float>(count) : std::numeric_limits<float>::quiet_NaN());
}

// gx[r, c] = g / count * (exp(logits[r, c] - lse[r]) - [c == target[r]]), 0 on ignored rows.
// One block per row (grid-strided).          logits, gx: [rows, C], target, lse: [rows], g: []
template <typename S, typename I>
__global__ void cross_entropy_backward_kernel(const S* logits, const I* target, const float* lse, const float* g, S* gx,
                                              int64_t n_rows, int64_t C, int64_t ignore_index, int64_t count) {
  const float scale = *g / static_cast<float>(count);
  for (int64_t r = blockIdx.x; r < n_rows; r += gridDim.x) {
    const int64_t t = static_cast<int64_t>(target[r]);
    const S* lr = logits + r * C;
    S* gr = gx + r * C;
    if (t == ignore_index) {
      for (int64_t c = threadIdx.x; c < C; c += blockDim.x) gr[c] = to_storage<S>(0.0f);
      continue;
    }
    const float m = lse[r];
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
      gr[c] = to_storage<S>(scale * expf(load(lr + c) - m) - (c == t ? scale : 0.0f));
  }
}

void check_rows(const char* op, const Tensor& t) {
  rows::check_cuda_floating(op, t);
  if (t.dim() != 2 || !t.is_contiguous()) throw std::invalid_argument(std::string(op) + ": needs a contiguous [rows, n], got " + t.str());
}

// Calls fn(I{}) with the index type of a target tensor.
template <typename Fn> void dispatch_index(const Tensor& t, Fn&& fn) {
  if (t.dtype() == DType::Int64) fn(int64_t{});
  else if (t.dtype() == DType::Int32) fn(int32_t{});
  else throw std::invalid_argument("cross_entropy: target must be int32 or int64, got " + t.str());
}

}  // namespace

Tensor softmax_rows(const Tensor& x, bool log_space) {
  const char* op = log_space ? "log_softmax" : "softmax";
  check_rows(op, x);
  const int64_t n_rows = x.shape()[0], n = x.shape()[1];
  Tensor y = empty(x.shape(), x.dtype(), x.device());
  if (y.numel() == 0) return y;
  const rows::RowLaunch l = rows::row_launch(op, n_rows, n);
  rows::dispatch_storage(x.dtype(), [&](auto s) {
    using S = decltype(s);
    rows::dispatch_bools(log_space, l.warp_per_row, [&](auto log_tag, auto warp_tag) {
      constexpr bool kLog = decltype(log_tag)::value, kWarp = decltype(warp_tag)::value;
      EMRRG_LAUNCH((softmax_forward_kernel<S, kLog, kWarp>), l.grid, l.block, 0, nullptr, ptr<const S>(x), ptr<S>(y),
                   n_rows, n);
    });
  });
  return y;
}

Tensor softmax_rows_backward(const Tensor& y, const Tensor& g, bool log_space) {
  const char* op = log_space ? "log_softmax backward" : "softmax backward";
  check_rows(op, y);
  check_rows(op, g);
  if (g.shape() != y.shape() || g.dtype() != y.dtype())
    throw std::invalid_argument(std::string(op) + ": gradient " + g.str() + " does not match " + y.str());
  const int64_t n_rows = y.shape()[0], n = y.shape()[1];
  Tensor gx = empty(y.shape(), y.dtype(), y.device());
  if (gx.numel() == 0) return gx;
  const rows::RowLaunch l = rows::row_launch(op, n_rows, n);
  rows::dispatch_storage(y.dtype(), [&](auto s) {
    using S = decltype(s);
    rows::dispatch_bools(log_space, l.warp_per_row, [&](auto log_tag, auto warp_tag) {
      constexpr bool kLog = decltype(log_tag)::value, kWarp = decltype(warp_tag)::value;
      EMRRG_LAUNCH((softmax_backward_kernel<S, kLog, kWarp>), l.grid, l.block, 0, nullptr, ptr<const S>(y),
                   ptr<const S>(g), ptr<S>(gx), n_rows, n);
    });
  });
  return gx;
}

std::vector<Tensor> cross_entropy_rows(const Tensor& logits, const Tensor& target, int64_t ignore_index, int64_t count) {
  check_rows("cross_entropy", logits);
  const int64_t n_rows = logits.shape()[0], C = logits.shape()[1];
  if (target.device() != logits.device() || target.shape() != Shape{n_rows} || !target.is_contiguous())
    throw std::invalid_argument("cross_entropy: target " + target.str() + " does not match logits " + logits.str());
  Tensor loss = empty({}, logits.dtype(), logits.device());
  Tensor lse = empty({n_rows}, DType::Float32, logits.device());
  Tensor row_loss = empty({n_rows}, DType::Float32, logits.device());
  const rows::RowLaunch l = rows::row_launch("cross_entropy", n_rows, C);
  rows::dispatch_storage(logits.dtype(), [&](auto s) {
    using S = decltype(s);
    if (n_rows > 0 && C > 0) {
      dispatch_index(target, [&](auto i) {
        using I = decltype(i);
        if (l.warp_per_row)
          EMRRG_LAUNCH((cross_entropy_forward_kernel<S, I, true>), l.grid, l.block, 0, nullptr, ptr<const S>(logits),
                       ptr<const I>(target), ptr<float>(row_loss), ptr<float>(lse), n_rows, C, ignore_index);
        else
          EMRRG_LAUNCH((cross_entropy_forward_kernel<S, I, false>), l.grid, l.block, 0, nullptr, ptr<const S>(logits),
                       ptr<const I>(target), ptr<float>(row_loss), ptr<float>(lse), n_rows, C, ignore_index);
      });
    }
    EMRRG_LAUNCH(cross_entropy_mean_kernel<S>, dim3(1), dim3(256), 0, nullptr, ptr<const float>(row_loss), ptr<S>(loss),
                 n_rows, count);
  });
  return {loss, lse};
}

Tensor cross_entropy_rows_backward(const Tensor& logits, const Tensor& target, const Tensor& lse, const Tensor& g,
                                   int64_t ignore_index, int64_t count) {
  check_rows("cross_entropy backward", logits);
  const int64_t n_rows = logits.shape()[0], C = logits.shape()[1];
  Tensor gx = empty(logits.shape(), logits.dtype(), logits.device());
  if (gx.numel() == 0) return gx;
  // The loss' gradient stays on the device: no synchronisation to read it.
  Tensor g32 = convert(g, DType::Float32);
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>(n_rows, 65535));
  const unsigned threads = static_cast<unsigned>(std::clamp<int64_t>((C + 31) / 32 * 32, 32, 256));
  rows::dispatch_storage(logits.dtype(), [&](auto s) {
    using S = decltype(s);
    dispatch_index(target, [&](auto i) {
      using I = decltype(i);
      EMRRG_LAUNCH((cross_entropy_backward_kernel<S, I>), dim3(grid), dim3(threads), 0, nullptr, ptr<const S>(logits),
                   ptr<const I>(target), ptr<const float>(lse), ptr<const float>(g32), ptr<S>(gx), n_rows, C,
                   ignore_index, count);
    });
  });
  return gx;
}

}  // namespace emrrg::cuda
