// The LoRA-fused linear layer (CPU reference: ops/lora_linear.cpp):
//   y = x W^T (+ bias),  y[:, row0 : row0 + rows] += s h B^T,  h = drop(x) A^T (rank-site dropout on h).
//
// Forward, one kernel: a block owns a 64-row x 64-column tile of y. Each k step brings one x
// tile into shared memory and uses it twice, for the W tile product and for the rank-r product
// x A^T (A's r rows are the second, small operand), so x is read once for both. After the k
// loop the block holds h for its 64 rows; it applies the dropout, writes h (one block per row
// tile: the first tile column the adapter touches), and adds s h B^T as r more k steps into
// the same accumulators before y is written. Tile columns the adapter does not touch (Partial
// LoRA) skip the rank-r product. bf16/fp16 with r <= 64: tensor cores, one warp per 16 rows;
// float32 and larger ranks: a SIMT kernel with the same tiles, h kept in shared memory.
// Input-site dropout masks x with 0/1 (exact in any dtype) and scales h by 1 / keep_prob.
//
// Backward: dh = s g_p B (then the rank-site mask); dA = dh^T drop(x), dB = s g_p^T h and dbias =
// colsum(g) as sums over N in per-chunk float32 partials (sum_partials); dx = g W on cuBLAS,
// then dx += drop'(dh A) elementwise.
#include "cuda/kernels/lora_linear.h"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda/cuda_check.h"
#include "cuda/gemm.h"
#include "cuda/kernels/storage.h"
#include "cuda/kernels/sum_partials.h"
#include "cuda/kernels/warp_mma.h"
#include "runtime/philox.h"
#include "runtime/view.h"

namespace emrrg::cuda {

namespace {

using mma::Shared;
using storage::ptr;
using storage::to_float;
using storage::to_storage;
using LoraScalars = DeviceKernels::LoraScalars;

constexpr int kTile = 64;  // rows and columns of a y tile; the k step of the tensor-core kernel
constexpr int kPad = 8;
constexpr int kLd = kTile + kPad;
constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kMaxTensorCoreRank = 64;
constexpr int kSimtRows = 32, kSimtK = 16, kSimtLd = kSimtK + 1;  // SIMT tiles: 32 x 64, k steps of 16
constexpr int kSimtThreads = 256;
constexpr size_t kMaxSimtSharedBytes = 160 * 1024;  // below every sm_80+ GPU's opt-in limit: ranks up to 791
constexpr int64_t kChunk = 256;  // rows of N per partial sum in the backward
constexpr int kColumnGroup = 16;  // columns of p per thread of the backward's column products

// Sizes, the adapter's column range and the dropout.
struct LoraGeometry {
  int64_t N, in, out, r, row0, rows;
  float scale;
  float keep, factor;  // mask threshold float(keep_prob) and float(1 / keep_prob) (0 when keep_prob is 0)
  bool input_dropout, rank_dropout;
  uint64_t seed, offset;
  bool vector_loads;  // x, w and a rows start 16-byte aligned: 8 elements per load

  // Element i of bernoulli_mask's draw.
  __device__ bool kept(int64_t i) const {
    uint32_t w[4];
    philox_block(seed, offset, static_cast<uint64_t>(i / 4), w);
    return philox_uniform_bits(w[i % 4]) < keep;
  }
  // Whether the tile of columns [n0, n0 + kTile) gets the adapter, and whether it writes h
  // (the first tile column the adapter touches, or column 0 for an empty adapter).
  __device__ bool adapted(int64_t n0) const { return n0 < row0 + rows && n0 + kTile > row0; }
  __device__ bool writes_h(int64_t n0) const { return rows > 0 ? n0 / kTile == row0 / kTile : n0 == 0; }
};

// dst[r, c] = src[(row0 + r) * ld + k0 + c] for rows below n_rows and columns below n_cols,
// else 0; with mask_base >= 0 also masked[r, c] = the element where the dropout keeps element
// mask_base + (row0 + r) * ld + k0 + c, else 0. kRows x kTile, 16-bit T: 8 elements per move.
template <typename T, int kRows>
__device__ void load_tile(Shared<T> dst, Shared<T> masked, const T* src, int64_t row0, int64_t n_rows, int64_t ld,
                          int64_t k0, int64_t n_cols, bool aligned, const LoraGeometry* dropout) {
  constexpr int kChunks = kTile / 8;
  for (int c = threadIdx.x; c < kRows * kChunks; c += kThreads) {
    const int r = c / kChunks, col = (c % kChunks) * 8;
    const int64_t row = row0 + r, k = k0 + col;
    const T* p = src + row * ld + k;
    if (aligned && !dropout && (row >= n_rows || k + 8 <= n_cols)) {
      mma::copy8<T>(dst + r * kLd + col, row < n_rows ? p : nullptr);
      continue;
    }
    for (int e = 0; e < 8; ++e) {
      const bool inside = row < n_rows && k + e < n_cols;
      const T v = inside ? p[e] : T(0.0f);
      dst[r * kLd + col + e] = v;
      if (dropout) masked[r * kLd + col + e] = inside && dropout->kept(row * ld + k + e) ? v : T(0.0f);
    }
  }
}

// y [N, out] (+)= one 64 x 64 tile: blockIdx.x over rows of x, blockIdx.y over columns of y.
// x [N, in], w [out, in], a [r, in], b [rows, r] (T, contiguous), bias [out] or null, h [N, r] f32.
template <typename T, int kRank>
__global__ void lora_linear_forward_tc_kernel(const T* x, const T* w, const T* bias, const T* a, const T* b, T* y,
                                              float* h, LoraGeometry g) {
  constexpr int kLdh = kRank + kPad;
  auto smem = dynamic_shared<T>();
  Shared<T> sx = smem, sw = smem + kTile * kLd, sa = smem + 2 * kTile * kLd, sxd = smem + (2 * kTile + kRank) * kLd;
  const Shared<T> sx_rank = g.input_dropout ? sxd : sx;
  const int warp = threadIdx.x / 32;
  const int64_t m0 = int64_t{blockIdx.x} * kTile, n0 = int64_t{blockIdx.y} * kTile;
  const bool adapted = g.adapted(n0), writes_h = g.writes_h(n0), rank_product = adapted || writes_h;
  const bool aligned = g.vector_loads;
  float acc[kTile / 8][4] = {}, acc_h[kRank / 8][4] = {};
  for (int64_t k0 = 0; k0 < g.in; k0 += kTile) {
    __syncthreads();  // the previous tiles are consumed
    load_tile<T, kTile>(sx, sxd, x, m0, g.N, g.in, k0, g.in, aligned, g.input_dropout && rank_product ? &g : nullptr);
    load_tile<T, kTile>(sw, sw, w, n0, g.out, g.in, k0, g.in, aligned, nullptr);
    if (rank_product) load_tile<T, kRank>(sa, sa, a, 0, g.r, g.in, k0, g.in, aligned, nullptr);
    __syncthreads();
    warp_mma::abt<T, kTile, kTile, kLd, kLd>(acc, sx + warp * 16 * kLd, sw);
    if (rank_product) warp_mma::abt<T, kTile, kRank, kLd, kLd>(acc_h, sx_rank + warp * 16 * kLd, sa);
  }
  if (rank_product) {
    __syncthreads();  // sx and sw become s h and B
    Shared<T> sh = sx, sb = sw;
    for (int nb = 0; nb < kRank / 8; ++nb)
      for (int e = 0; e < 4; ++e) {
        const int row = warp * 16 + warp_mma::frag_row(e), c = warp_mma::frag_col(nb, e);
        const int64_t i = m0 + row;
        float v = acc_h[nb][e];
        if (g.input_dropout) v *= g.factor;
        if (g.rank_dropout) v = c < g.r && g.kept(i * g.r + c) ? v * g.factor : 0.0f;
        if (writes_h && i < g.N && c < g.r) h[i * g.r + c] = v;
        sh[row * kLdh + c] = to_storage<T>(v * g.scale);
      }
    for (int e = threadIdx.x; e < kTile * kRank; e += kThreads) {
      const int row = e / kRank, c = e % kRank;
      const int64_t j = n0 + row - g.row0;
      sb[row * kLdh + c] = j >= 0 && j < g.rows && c < g.r ? b[j * g.r + c] : T(0.0f);
    }
    __syncthreads();
    if (adapted) warp_mma::abt<T, kRank, kTile, kLdh, kLdh>(acc, sh + warp * 16 * kLdh, sb);
  }
  for (int nb = 0; nb < kTile / 8; ++nb)
    for (int e = 0; e < 4; ++e) {
      const int64_t i = m0 + warp * 16 + warp_mma::frag_row(e), n = n0 + warp_mma::frag_col(nb, e);
      if (i < g.N && n < g.out) y[i * g.out + n] = to_storage<T>(acc[nb][e] + (bias ? to_float(bias[n]) : 0.0f));
    }
}

// The SIMT version: a 32 x 64 tile of y per block (16 x 16 threads, each 2 x 4 elements), k steps
// of 16; h [32 x r] accumulates in shared memory, each element owned by one thread.
// x [N, in], w [out, in], bias [out] or null (S); a [r, in], b [rows, r] float32; h [N, r] f32.
template <typename S>
__global__ void lora_linear_forward_simt_kernel(const S* x, const S* w, const S* bias, const float* a, const float* b,
                                                S* y, float* h, LoraGeometry g) {
  auto smem = dynamic_shared<float>();
  Shared<float> sx = smem, sxd = smem + kSimtRows * kSimtLd, sw = smem + 2 * kSimtRows * kSimtLd;
  Shared<float> sa = smem + (2 * kSimtRows + kTile) * kSimtLd;
  Shared<float> sh = smem + (2 * kSimtRows + kTile + g.r) * kSimtLd;
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int64_t m0 = int64_t{blockIdx.x} * kSimtRows, n0 = int64_t{blockIdx.y} * kTile;
  const bool adapted = g.adapted(n0), writes_h = g.writes_h(n0), rank_product = adapted || writes_h;
  const int64_t h_size = kSimtRows * g.r;
  for (int64_t e = threadIdx.x; e < h_size; e += kSimtThreads) sh[e] = 0.0f;
  float acc[2][4] = {};
  for (int64_t k0 = 0; k0 < g.in; k0 += kSimtK) {
    __syncthreads();
    for (int e = threadIdx.x; e < kSimtRows * kSimtK; e += kSimtThreads) {
      const int r = e / kSimtK, c = e % kSimtK;
      const int64_t i = m0 + r, k = k0 + c;
      const float v = i < g.N && k < g.in ? to_float(x[i * g.in + k]) : 0.0f;
      sx[r * kSimtLd + c] = v;
      sxd[r * kSimtLd + c] = g.input_dropout && rank_product && i < g.N && k < g.in && !g.kept(i * g.in + k) ? 0.0f : v;
    }
    for (int e = threadIdx.x; e < kTile * kSimtK; e += kSimtThreads) {
      const int r = e / kSimtK, c = e % kSimtK;
      const int64_t n = n0 + r, k = k0 + c;
      sw[r * kSimtLd + c] = n < g.out && k < g.in ? to_float(w[n * g.in + k]) : 0.0f;
    }
    if (rank_product)
      for (int64_t e = threadIdx.x; e < g.r * kSimtK; e += kSimtThreads) {
        const int64_t c = e / kSimtK, k = k0 + e % kSimtK;
        sa[e / kSimtK * kSimtLd + e % kSimtK] = k < g.in ? a[c * g.in + k] : 0.0f;
      }
    __syncthreads();
    for (int kk = 0; kk < kSimtK; ++kk)
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 4; ++j) acc[i][j] += sx[(ty + 16 * i) * kSimtLd + kk] * sw[(tx + 16 * j) * kSimtLd + kk];
    if (rank_product)
      for (int64_t e = threadIdx.x; e < h_size; e += kSimtThreads) {
        const int64_t r = e / g.r, c = e % g.r;
        float dot = 0.0f;
        for (int kk = 0; kk < kSimtK; ++kk) dot += sxd[r * kSimtLd + kk] * sa[c * kSimtLd + kk];
        sh[e] = sh[e] + dot;
      }
  }
  if (rank_product) {
    for (int64_t e = threadIdx.x; e < h_size; e += kSimtThreads) {
      const int64_t i = m0 + e / g.r, c = e % g.r;
      float v = sh[e];
      if (g.input_dropout) v *= g.factor;
      if (g.rank_dropout) v = g.kept(i * g.r + c) ? v * g.factor : 0.0f;
      if (writes_h && i < g.N) h[i * g.r + c] = v;
      sh[e] = v * g.scale;
    }
    __syncthreads();
    if (adapted)
      for (int j = 0; j < 4; ++j) {
        const int64_t jb = n0 + tx + 16 * j - g.row0;
        if (jb < 0 || jb >= g.rows) continue;
        for (int i = 0; i < 2; ++i)
          for (int64_t c = 0; c < g.r; ++c) acc[i][j] += sh[(ty + 16 * i) * g.r + c] * b[jb * g.r + c];
      }
  }
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j) {
      const int64_t row = m0 + ty + 16 * i, n = n0 + tx + 16 * j;
      if (row < g.N && n < g.out) y[row * g.out + n] = to_storage<S>(acc[i][j] + (bias ? to_float(bias[n]) : 0.0f));
    }
}

// dh [N, r] f32 = s g[:, row0 : row0 + rows] B, then the rank-site mask.   g [N, out], b [rows, r] f32
template <typename S> __global__ void lora_dh_kernel(const S* g_out, const float* b, float* dh, LoraGeometry g) {
  const int64_t n = g.N * g.r;
  for (int64_t e = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; e < n; e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t i = e / g.r, c = e % g.r;
    const S* gi = g_out + i * g.out + g.row0;
    float acc = 0.0f;
    for (int64_t j = 0; j < g.rows; ++j) acc += to_float(gi[j]) * b[j * g.r + c];
    if (g.rank_dropout) acc = g.kept(e) ? acc * g.factor : 0.0f;
    dh[e] = acc * g.scale;
  }
}

// part[z, c, k] = alpha sum over rows i of chunk z of p[i, c] q[i, q0 + k] (p null: 1), q times
// its input-site dropout scale when `masked`. Thread per k (blockIdx.x) and kColumnGroup values of
// c (blockIdx.y), so q is read once per group; chunk z = blockIdx.z.
// p [N, pc] f32; q [N, ldq] S; part [chunks, pc, qn] f32
template <typename S>
__global__ void lora_column_products_kernel(const float* p, int64_t pc, const S* q, int64_t ldq, int64_t q0, int64_t qn,
                                            float alpha, bool masked, float* part, LoraGeometry g) {
  const int64_t k = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (k >= qn) return;
  const int64_t c0 = int64_t{blockIdx.y} * kColumnGroup, z = blockIdx.z;
  const int64_t end = std::min(g.N, (z + 1) * kChunk), cn = std::min<int64_t>(kColumnGroup, pc - c0);
  float acc[kColumnGroup] = {};
  for (int64_t i = z * kChunk; i < end; ++i) {
    float v = to_float(q[i * ldq + q0 + k]);
    if (masked) v = g.kept(i * ldq + q0 + k) ? v * g.factor : 0.0f;
    for (int c = 0; c < kColumnGroup; ++c)
      if (c < cn) acc[c] += (p ? p[i * pc + c0 + c] : 1.0f) * v;
  }
  for (int c = 0; c < kColumnGroup; ++c)
    if (c < cn) part[(z * pc + c0 + c) * qn + k] = alpha * acc[c];
}

// dx [N, in] += (dh A) through the input-site dropout.   dh [N, r], a [r, in] f32
template <typename S> __global__ void lora_dx_rank_kernel(const float* dh, const float* a, S* dx, LoraGeometry g) {
  const int64_t n = g.N * g.in;
  for (int64_t e = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; e < n; e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t i = e / g.in, k = e % g.in;
    float acc = 0.0f;
    for (int64_t c = 0; c < g.r; ++c) acc += dh[i * g.r + c] * a[c * g.in + k];
    if (g.input_dropout) acc = g.kept(e) ? acc * g.factor : 0.0f;
    dx[e] = to_storage<S>(to_float(dx[e]) + acc);
  }
}

// ---------------------------------------------------------------- host side

LoraGeometry geometry(const Tensor& x, const Tensor& weight, const Tensor& lora_a, const Tensor& lora_b,
                      const LoraScalars& s) {
  const char* op = "lora_linear";
  for (const Tensor* t : {&x, &weight, &lora_a, &lora_b}) storage::check_cuda_floating(op, *t);
  if (x.dim() != 2 || weight.dim() != 2 || lora_a.dim() != 2 || lora_b.dim() != 2 || x.shape()[1] != weight.shape()[1] ||
      lora_a.shape()[1] != x.shape()[1] || lora_b.shape()[1] != lora_a.shape()[0] || x.dtype() != weight.dtype() ||
      lora_a.dtype() != lora_b.dtype() || s.row0 < 0 || s.row0 + lora_b.shape()[0] > weight.shape()[0])
    throw std::invalid_argument(std::string(op) + ": x " + x.str() + ", weight " + weight.str() + ", lora_a " +
                                lora_a.str() + ", lora_b " + lora_b.str() + " and row0 " + std::to_string(s.row0) +
                                " are not [N, in], [out, in], [r, in], [rows, r] with row0 + rows <= out");
  const bool dropout = s.keep_prob < 1;
  return {x.shape()[0],
          x.shape()[1],
          weight.shape()[0],
          lora_a.shape()[0],
          s.row0,
          lora_b.shape()[0],
          static_cast<float>(s.scale),
          static_cast<float>(s.keep_prob),
          static_cast<float>(s.keep_prob > 0 ? 1.0 / s.keep_prob : 0.0),
          dropout && s.dropout_site == LoraDropoutSite::Input,
          dropout && s.dropout_site == LoraDropoutSite::Rank,
          s.seed,
          s.offset,
          false};
}

template <typename Kernel> void allow_shared(Kernel kernel, size_t bytes) {
  if (bytes > 48 * 1024)
    EMRRG_CUDA_CHECK(cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel),
                                          cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

unsigned blocks(int64_t n, int64_t per_block) { return static_cast<unsigned>((n + per_block - 1) / per_block); }

// Calls fn(std::integral_constant<int, R>) with r rounded up to a multiple of 16 when S runs on
// the tensor cores at this rank.
template <typename S, typename Fn> bool dispatch_tensor_core(int64_t r, Fn&& fn) {
  if constexpr (mma::kTensorCoreType<S>) {
    if (r <= 0 || r > kMaxTensorCoreRank) return false;
    if (r <= 16) fn(std::integral_constant<int, 16>{});
    else if (r <= 32) fn(std::integral_constant<int, 32>{});
    else if (r <= 48) fn(std::integral_constant<int, 48>{});
    else fn(std::integral_constant<int, 64>{});
    return true;
  }
  return false;
}

Tensor contiguous_as(const Tensor& t, DType dtype) { return to_contiguous(t.dtype() == dtype ? t : convert(t, dtype)); }

}  // namespace

std::vector<Tensor> lora_linear_forward(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in,
                                        const Tensor& lora_a, const Tensor& lora_b, const LoraScalars& s) {
  LoraGeometry g = geometry(x_in, weight_in, lora_a, lora_b, s);
  const Tensor x = to_contiguous(x_in), weight = to_contiguous(weight_in);
  const Tensor bias = bias_in.defined() ? to_contiguous(bias_in) : Tensor();
  Tensor y = empty({g.N, g.out}, x.dtype(), x.device());
  Tensor h = empty({g.N, g.r}, DType::Float32, x.device());
  if (g.N == 0) return {y, h};
  storage::dispatch_storage(x.dtype(), [&](auto tag) {
    using S = decltype(tag);
    const unsigned col_tiles = std::max(1u, blocks(g.out, kTile));
    const bool tensor_cores = dispatch_tensor_core<S>(g.r, [&](auto rank) {
      constexpr int R = decltype(rank)::value;
      const Tensor a = contiguous_as(lora_a, x.dtype()), b = contiguous_as(lora_b, x.dtype());
      auto aligned16 = [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.raw_data()) % 16 == 0; };
      g.vector_loads = g.in % 8 == 0 && aligned16(x) && aligned16(weight) && aligned16(a);
      const size_t bytes = static_cast<size_t>(3 * kTile + R) * kLd * sizeof(S);
      allow_shared(lora_linear_forward_tc_kernel<S, R>, bytes);
      EMRRG_LAUNCH((lora_linear_forward_tc_kernel<S, R>), dim3(blocks(g.N, kTile), col_tiles), kThreads, bytes, nullptr,
                   ptr<const S>(x), ptr<const S>(weight), ptr<const S>(bias), ptr<const S>(a), ptr<const S>(b),
                   ptr<S>(y), ptr<float>(h), g);
    });
    if (tensor_cores) return;
    const Tensor a = contiguous_as(lora_a, DType::Float32), b = contiguous_as(lora_b, DType::Float32);
    const size_t bytes = static_cast<size_t>((2 * kSimtRows + kTile + g.r) * kSimtLd + kSimtRows * g.r) * sizeof(float);
    if (bytes > kMaxSimtSharedBytes)
      throw std::invalid_argument("lora_linear: rank " + std::to_string(g.r) + " needs " + std::to_string(bytes) +
                                  " bytes of shared memory on the SIMT path, more than its " +
                                  std::to_string(kMaxSimtSharedBytes));
    allow_shared(lora_linear_forward_simt_kernel<S>, bytes);
    EMRRG_LAUNCH(lora_linear_forward_simt_kernel<S>, dim3(blocks(g.N, kSimtRows), col_tiles), kSimtThreads, bytes,
                 nullptr, ptr<const S>(x), ptr<const S>(weight), ptr<const S>(bias), ptr<const float>(a),
                 ptr<const float>(b), ptr<S>(y), ptr<float>(h), g);
  });
  return {y, h};
}

std::vector<Tensor> lora_linear_backward(const Tensor& x_in, const Tensor& weight, const Tensor& lora_a,
                                         const Tensor& lora_b, const Tensor& h_in, const Tensor& g_in,
                                         const LoraScalars& s, bool need_dx, bool need_dbias) {
  const LoraGeometry g = geometry(x_in, weight, lora_a, lora_b, s);
  if (g_in.shape() != Shape{g.N, g.out} || g_in.dtype() != x_in.dtype() || h_in.shape() != Shape{g.N, g.r} ||
      h_in.dtype() != DType::Float32)
    throw std::invalid_argument("lora_linear backward: g " + g_in.str() + " and h " + h_in.str() +
                                " are not [N, out] in x's dtype and float32 [N, r] for x " + x_in.str());
  const Device dev = x_in.device();
  const Tensor x = to_contiguous(x_in), grad = to_contiguous(g_in), h = to_contiguous(h_in);
  const Tensor a = contiguous_as(lora_a, DType::Float32), b = contiguous_as(lora_b, DType::Float32);
  Tensor da = empty({g.r, g.in}, lora_a.dtype(), dev), dbt = empty({g.r, g.rows}, DType::Float32, dev);
  Tensor dbias = need_dbias ? empty({g.out}, x.dtype(), dev) : Tensor();
  Tensor dx = need_dx ? empty({g.N, g.in}, x.dtype(), dev) : Tensor();
  const int64_t chunks = (g.N + kChunk - 1) / kChunk;
  Tensor dh = empty({g.N, g.r}, DType::Float32, dev);
  storage::dispatch_storage(x.dtype(), [&](auto tag) {
    using S = decltype(tag);
    if (dh.numel() > 0)
      EMRRG_LAUNCH(lora_dh_kernel<S>, storage::grid_for(dh.numel()), storage::kBlock, 0, nullptr, ptr<const S>(grad),
                   ptr<const float>(b), ptr<float>(dh), g);
    // One partial per chunk of N rows, added in chunk order.
    auto column_products = [&](const Tensor& p, int64_t pc, const Tensor& q, int64_t q0, int64_t qn, float alpha,
                               bool masked, const Tensor& out) {
      Tensor part = empty({1, chunks, pc * qn}, DType::Float32, dev);
      if (part.numel() > 0)
        EMRRG_LAUNCH(lora_column_products_kernel<S>,
                     dim3(blocks(qn, storage::kBlock), blocks(pc, kColumnGroup), static_cast<unsigned>(chunks)),
                     storage::kBlock, 0, nullptr, ptr<const float>(p), pc, ptr<const S>(q), q.shape()[1], q0, qn, alpha,
                     masked, ptr<float>(part), g);
      sum_partials(part, out);
    };
    column_products(dh, g.r, x, 0, g.in, 1.0f, g.input_dropout, da);
    column_products(h, g.r, grad, g.row0, g.rows, g.scale, false, dbt);
    if (need_dbias) column_products(Tensor(), 1, grad, 0, g.out, 1.0f, false, dbias);
    if (!need_dx || dx.numel() == 0) return;
    matmul_out(grad, weight, dx);
    if (g.r > 0)
      EMRRG_LAUNCH(lora_dx_rank_kernel<S>, storage::grid_for(dx.numel()), storage::kBlock, 0, nullptr,
                   ptr<const float>(dh), ptr<const float>(a), ptr<S>(dx), g);
  });
  const Tensor db = convert(to_contiguous(views::transpose(dbt, 0, 1)), lora_b.dtype());
  return {dx, da, db, dbias};
}

}  // namespace emrrg::cuda
