// Row reductions beyond sum: argmax (which max() builds on) and the variance. One block per
// row, float32 arithmetic, warp shuffles then one shared slot per warp. CPU reference:
// ops/reduce.cpp (argmax, var).
#include "cuda/kernels/reduce.h"

#include "cuda/kernels/row_reduce.h"
#include "cuda/kernels/storage.h"

namespace emrrg::cuda {

namespace {

using storage::kBlock;
using storage::load;
using storage::ptr;
using storage::to_storage;

constexpr unsigned kFullMask = 0xffffffffu;

// Whether candidate (v, i) beats the best so far (bv, bi) under the CPU's rule: a NaN beats a
// number, a larger number beats a smaller one, and among equals the lower position wins.
// A negative position is "no element yet". Symmetric in its arguments, so any reduction order
// picks the same winner.
__device__ __forceinline__ bool beats(float v, int64_t i, float bv, int64_t bi) {
  if (i < 0) return false;
  if (bi < 0) return true;
  const bool nan = v != v, bnan = bv != bv;
  if (nan != bnan) return nan;
  if (!nan && v != bv) return v > bv;
  return i < bi;
}

// Leaves the winner of the warp's 32 candidates in every lane.
__device__ __forceinline__ void warp_best(float& v, int64_t& i) {
  for (int offset = 16; offset > 0; offset /= 2) {
    const float ov = __shfl_xor_sync(kFullMask, v, offset);
    const int64_t oi = __shfl_xor_sync(kFullMask, i, offset);
    if (beats(ov, oi, v, i)) {
      v = ov;
      i = oi;
    }
  }
}

// out[r] = first argmax of x[r, :]                          x: [rows, n], out: int64 [rows]
template <typename S> __global__ void argmax_rows_kernel(const S* x, int64_t* out, int64_t rows, int64_t n) {
  EMRRG_SHARED(float, warp_v, 32);
  EMRRG_SHARED(int64_t, warp_i, 32);
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32, warps = (blockDim.x + 31) / 32;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    float bv = 0.0f;
    int64_t bi = -1;
    for (int64_t j = tid; j < n; j += blockDim.x) {
      const float v = load(x + r * n + j);
      if (beats(v, j, bv, bi)) {
        bv = v;
        bi = j;
      }
    }
    warp_best(bv, bi);
    if (lane == 0) {
      warp_v[warp] = bv;
      warp_i[warp] = bi;
    }
    __syncthreads();
    if (warp == 0) {
      float v = 0.0f;
      int64_t i = -1;
      if (lane < warps) {
        v = warp_v[lane];
        i = warp_i[lane];
      }
      warp_best(v, i);
      if (lane == 0) out[r] = i;
    }
    __syncthreads();  // the slots are rewritten for the next row
  }
}

// out[r] = sum_j (x[r, j] - mean_r)^2 / denom, mean first, then the centred squares (two
// passes over the row: no cancellation from sum(x^2) - n mean^2). A warp per short row, a
// block per long one (cuda/kernels/row_reduce.h).           x: [rows, n], out: [rows]
template <typename S, bool kWarp>
__global__ void var_rows_kernel(const S* x, S* out, int64_t rows, int64_t n, float denom) {
  const int64_t r = rows::this_row<kWarp>();
  if (r >= rows) return;  // a whole warp (warp rows) or a whole block (block rows)
  const S* row = x + r * n;
  float s = 0.0f;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += load(row + j);
  const float mean = rows::row_reduce<kWarp>(s, rows::Sum{}, 0.0f) / static_cast<float>(n);
  float q = 0.0f;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    const float d = load(row + j) - mean;
    q += d * d;
  }
  const float total = rows::row_reduce<kWarp>(q, rows::Sum{}, 0.0f);
  if (threadIdx.x == 0) out[r] = to_storage<S>(total / denom);
}

void check_rows(const char* op, const Tensor& x) {
  storage::check_cuda_floating(op, x);
  if (x.dim() != 2 || !x.is_contiguous())
    throw std::invalid_argument(std::string(op) + ": needs a contiguous [rows, n], got " + x.str());
}

// Short rows get one warp, long rows a full block.
unsigned threads_for(int64_t n) { return static_cast<unsigned>(std::clamp<int64_t>((n + 31) / 32 * 32, 32, kBlock)); }

}  // namespace

Tensor argmax_rows(const Tensor& x) {
  check_rows("argmax", x);
  const int64_t rows = x.shape()[0], n = x.shape()[1];
  if (n == 0) throw std::invalid_argument("argmax: empty rows in " + x.str());
  Tensor out = empty({rows}, DType::Int64, x.device());
  if (rows == 0) return out;
  storage::dispatch_storage(x.dtype(), [&](auto s) {
    using S = decltype(s);
    EMRRG_LAUNCH(argmax_rows_kernel<S>, dim3(static_cast<unsigned>(std::min<int64_t>(rows, 65535))),
                 dim3(threads_for(n)), 0, nullptr, ptr<S>(x), ptr<int64_t>(out), rows, n);
  });
  return out;
}

Tensor var_rows(const Tensor& x, double denom) {
  check_rows("var", x);
  const int64_t rows = x.shape()[0], n = x.shape()[1];
  if (n == 0) throw std::invalid_argument("var: empty rows in " + x.str());
  Tensor out = empty({rows}, x.dtype(), x.device());
  if (rows == 0) return out;
  const rows::RowLaunch l = rows::row_launch("var", rows, n);
  storage::dispatch_storage(x.dtype(), [&](auto s) {
    using S = decltype(s);
    rows::dispatch_bools(l.warp_per_row, false, [&](auto warp_tag, auto) {
      EMRRG_LAUNCH((var_rows_kernel<S, decltype(warp_tag)::value>), l.grid, l.block, 0, nullptr, ptr<S>(x), ptr<S>(out),
                   rows, n, static_cast<float>(denom));
    });
  });
  return out;
}

}  // namespace emrrg::cuda
