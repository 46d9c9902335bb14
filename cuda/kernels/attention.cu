// Scaled dot-product attention, flash style (CPU reference: ops/attention.cpp).
//
// bf16/fp16, head dim 64 or 128: tensor cores (cuda/kernels/mma.h). A block of 4 warps owns 64
// rows of one head; each warp owns 16 of them and keeps its score tile, softmax statistics and
// accumulators in mma fragments, so P (or dS) goes from the accumulator layout of one mma
// straight into the A operand of the next. Tiles of 64 rows live in shared memory with 8
// elements of padding per row (ldmatrix reads 8 rows at once; the padding puts them in
// different banks).
//   forward: S = Q K^T per key tile, online softmax, O += P V; key tiles past the causal
//            diagonal of the whole query tile are skipped.
//   backward: delta = rowsum(dO * O); dK, dV per key tile (warps own keys, looping over the
//            GQA group's heads and the query tiles in order: S^T = K Q^T, dP^T = V dO^T,
//            dV += P^T dO, dK += dS^T Q); dQ per query tile (S = Q K^T, dP = dO V^T,
//            dQ += dS K). P is recomputed from lse; every gradient element has one owner
//            and a fixed summation order: no float atomics.
// Lq = 1 (decoding against a KV cache): the keys are split over blocks, each producing a
// partial (max, sum, accumulator), and a second kernel combines the parts in order.
// Anything else (float32, other head dims up to 256): one warp per row, lanes across the head
// dim, the same online softmax.
// The gated cross-attention (gated_cross_attention.cu) runs the same kernels: the forward's
// epilogue can also write self_out + (out * tanh(gate_logit)) * tanh(warm_up), and the backward
// kernels take a per-row factor of dout (its delta given), applied to dP and to P^T in the dV sum.
#include "cuda/kernels/attention.h"

#include <cmath>
#include <limits>

#include "cuda/cuda_check.h"
#include "cuda/kernels/mma.h"
#include "cuda/kernels/warp_mma.h"
#include "cuda/kernels/row_reduce.h"
#include "cuda/kernels/storage.h"

namespace emrrg::cuda {

namespace {

using mma::Shared;
using storage::ptr;
using storage::to_float;
using storage::to_storage;

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kTile = 64;           // rows of a query or key tile (16 per warp)
constexpr int kBackwardQueryTile = 32;  // the query tiles the dK/dV kernel walks: fewer live registers
constexpr int kPad = 8;
constexpr int kMaxSimtChunks = 8;   // head dims up to 256 on the warp-per-row paths
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Sizes and the visibility rule: query i sees key j when j < key_end(i) and the mask keeps j.
struct Geometry {
  int64_t batch, q_heads, kv_heads, Lq, Lk, head_dim;
  bool causal;
  float scale;

  __host__ __device__ int64_t group() const { return q_heads / kv_heads; }
  __host__ __device__ int64_t key_end(int64_t i) const {
    return causal ? std::min<int64_t>(std::max<int64_t>(i + Lk - Lq + 1, 0), Lk) : Lk;
  }
  __host__ __device__ int64_t first_query(int64_t j) const { return causal ? std::max<int64_t>(0, j - (Lk - Lq)) : 0; }
  __device__ bool visible(int64_t i, int64_t j, const uint8_t* keep_row) const {
    return i < Lq && j < key_end(i) && (!keep_row || keep_row[j]);
  }
  // Offsets of the first row of q head (b, h) and of its kv head.
  __host__ __device__ int64_t q_offset(int64_t b, int64_t h) const { return (b * q_heads + h) * Lq * head_dim; }
  __host__ __device__ int64_t kv_offset(int64_t b, int64_t h) const {
    return (b * kv_heads + h / group()) * Lk * head_dim;
  }
};

// ---------------------------------------------------------------- tensor-core building blocks

template <int D> constexpr int kStride = D + kPad;

// Rows [0, kRows) of a tile from src (row stride D), zeros from row `rows` on.
template <typename T, int D, int kRows> __device__ void load_tile(Shared<T> dst, const T* src, int64_t rows) {
  constexpr int kChunks = D / 8;
  for (int c = threadIdx.x; c < kRows * kChunks; c += kThreads) {
    const int r = c / kChunks, col = (c % kChunks) * 8;
    mma::copy8<T>(dst + r * kStride<D> + col, r < rows ? src + r * D + col : nullptr);
  }
}

// acc [16 x N] = A [16 x D] . B [N x D]^T, both operands' rows in shared memory (stride kStride<D>).
template <typename T, int D, int N> __device__ void warp_abt(float (&acc)[N / 8][4], Shared<T> a, Shared<T> b) {
  for (int nb = 0; nb < N / 8; ++nb)
    for (int e = 0; e < 4; ++e) acc[nb][e] = 0.0f;
  warp_mma::abt<T, D, N, kStride<D>, kStride<D>>(acc, a, b);
}

// acc [16 x D] += P [16 x N] . B [N x D], P in warp_abt's accumulator layout.
template <typename T, int D, int N>
__device__ void warp_pb(float (&acc)[D / 8][4], const float (&p)[N / 8][4], Shared<T> b) {
  warp_mma::pb<T, D, N, kStride<D>>(acc, p, b);
}

using warp_mma::frag_col;
using warp_mma::frag_row;
using warp_mma::quad_max;
using warp_mma::quad_sum;

// The gated cross-attention's epilogue (gated_cross_attention.cu), or nothing when gated is null:
// gated [B, Hq, Lq, D] = self_out + (out * tanh(gate_logit[b, i])) * tanh(warm_up[0]).
template <typename S> struct Epilogue {
  const S* self_out;         // [B, Hq, Lq, D]
  const float* gate_logit;   // [B, Lq]
  const float* warm_up;      // [1]
  S* gated;                  // [B, Hq, Lq, D]

  // Element `e` (an offset into [B, Hq, Lq, D]) of query i of batch b, whose attention output is `out`.
  __device__ void write(int64_t b, int64_t i, int64_t Lq, int64_t e, float out) const {
    const float token_gate = tanhf(gate_logit[b * Lq + i]);
    gated[e] = to_storage<S>(to_float(self_out[e]) + (out * token_gate) * tanhf(warm_up[0]));
  }
};

// ---------------------------------------------------------------- tensor-core kernels

// out, lse of 64 query rows (blockIdx.x) of head blockIdx.y = b * Hq + h.
// q, out: [B, Hq, Lq, D]; k, v: [B, Hkv, Lk, D]; keep: [B, Lk] or null; lse: [B, Hq, Lq]
template <typename T, int D>
__global__ void attention_forward_tc_kernel(const T* q, const T* k, const T* v, const uint8_t* keep, T* out, float* lse, Geometry g,
                                            Epilogue<T> gates) {
  constexpr int kS = kStride<D>;
  auto smem = dynamic_shared<T>();
  Shared<T> sq = smem, sk = smem + kTile * kS, sv = smem + 2 * kTile * kS;
  const int warp = threadIdx.x / 32;
  const int64_t bh = blockIdx.y, b = bh / g.q_heads, h = bh % g.q_heads;
  const int64_t i0 = int64_t{blockIdx.x} * kTile;
  const int64_t q_rows = std::min<int64_t>(kTile, g.Lq - i0);
  const T* kh = k + g.kv_offset(b, h);
  const T* vh = v + g.kv_offset(b, h);
  const uint8_t* keep_row = keep ? keep + b * g.Lk : nullptr;
  load_tile<T, D, kTile>(sq, q + g.q_offset(b, h) + i0 * D, q_rows);

  float o[D / 8][4] = {};
  float m[2] = {kNegInf, kNegInf}, l[2] = {0.0f, 0.0f};
  const int64_t kv_end = g.key_end(i0 + q_rows - 1);
  for (int64_t j0 = 0; j0 < kv_end; j0 += kTile) {
    __syncthreads();  // the previous tiles are consumed
    load_tile<T, D, kTile>(sk, kh + j0 * D, std::min<int64_t>(kTile, g.Lk - j0));
    load_tile<T, D, kTile>(sv, vh + j0 * D, std::min<int64_t>(kTile, g.Lk - j0));
    __syncthreads();
    float s[kTile / 8][4];
    warp_abt<T, D, kTile>(s, sq + warp * 16 * kS, sk);
    float tile_max[2] = {kNegInf, kNegInf};
    for (int nb = 0; nb < kTile / 8; ++nb)
      for (int e = 0; e < 4; ++e) {
        const int64_t i = i0 + warp * 16 + frag_row(e), j = j0 + frag_col(nb, e);
        s[nb][e] = g.visible(i, j, keep_row) ? s[nb][e] * g.scale : kNegInf;
        tile_max[e >> 1] = fmaxf(tile_max[e >> 1], s[nb][e]);
      }
    float alpha[2];
    for (int r = 0; r < 2; ++r) {
      const float m_new = fmaxf(m[r], quad_max(tile_max[r]));
      const float m_use = m_new == kNegInf ? 0.0f : m_new;  // a row with nothing seen yet keeps p = 0
      alpha[r] = __expf(m[r] - m_use);
      m[r] = m_new;
      tile_max[r] = m_use;
      l[r] *= alpha[r];
    }
    for (int nb = 0; nb < kTile / 8; ++nb)
      for (int e = 0; e < 4; ++e) {
        s[nb][e] = __expf(s[nb][e] - tile_max[e >> 1]);
        l[e >> 1] += s[nb][e];
      }
    for (int nb = 0; nb < D / 8; ++nb)
      for (int e = 0; e < 4; ++e) o[nb][e] *= alpha[e >> 1];
    warp_pb<T, D, kTile>(o, s, sv);
  }
  for (int r = 0; r < 2; ++r) l[r] = quad_sum(l[r]);
  T* oh = out + g.q_offset(b, h);
  for (int nb = 0; nb < D / 8; ++nb)
    for (int e = 0; e < 4; ++e) {
      const int64_t i = i0 + warp * 16 + frag_row(e);
      const float sum = l[e >> 1], value = sum > 0.0f ? o[nb][e] / sum : 0.0f;
      if (i >= g.Lq) continue;
      oh[i * D + frag_col(nb, e)] = to_storage<T>(value);
      if (gates.gated) gates.write(b, i, g.Lq, g.q_offset(b, h) + i * D + frag_col(nb, e), value);
    }
  if (threadIdx.x % 4 == 0)
    for (int r = 0; r < 2; ++r) {
      const int64_t i = i0 + warp * 16 + frag_row(2 * r);
      if (i < g.Lq) lse[bh * g.Lq + i] = l[r] > 0.0f ? m[r] + logf(l[r]) : kNegInf;
    }
}

// dq of 64 query rows (blockIdx.x) of head blockIdx.y = b * Hq + h.
// q, dout, dq: [B, Hq, Lq, D]; k, v: [B, Hkv, Lk, D]; lse, delta: [B, Hq, Lq]; keep: [B, Lk] or null
template <typename T, int D>
__global__ void attention_dq_tc_kernel(const T* q, const T* k, const T* v, const T* dout, const float* lse, const float* delta,
                                       const float* row_scale, const uint8_t* keep, T* dq, Geometry g) {
  constexpr int kS = kStride<D>;
  auto smem = dynamic_shared<T>();
  Shared<T> sq = smem, sdo = smem + kTile * kS, sk = smem + 2 * kTile * kS, sv = smem + 3 * kTile * kS;
  const int warp = threadIdx.x / 32;
  const int64_t bh = blockIdx.y, b = bh / g.q_heads, h = bh % g.q_heads;
  const int64_t i0 = int64_t{blockIdx.x} * kTile;
  const int64_t q_rows = std::min<int64_t>(kTile, g.Lq - i0);
  const T* kh = k + g.kv_offset(b, h);
  const T* vh = v + g.kv_offset(b, h);
  const uint8_t* keep_row = keep ? keep + b * g.Lk : nullptr;
  load_tile<T, D, kTile>(sq, q + g.q_offset(b, h) + i0 * D, q_rows);
  load_tile<T, D, kTile>(sdo, dout + g.q_offset(b, h) + i0 * D, q_rows);
  float row_lse[2], row_delta[2], row_dscale[2];
  for (int r = 0; r < 2; ++r) {
    const int64_t i = i0 + warp * 16 + frag_row(2 * r);
    row_lse[r] = i < g.Lq ? lse[bh * g.Lq + i] : 0.0f;
    row_delta[r] = i < g.Lq ? delta[bh * g.Lq + i] : 0.0f;
    row_dscale[r] = i < g.Lq && row_scale ? row_scale[bh * g.Lq + i] : 1.0f;
  }
  float acc[D / 8][4] = {};
  const int64_t kv_end = g.key_end(i0 + q_rows - 1);
  for (int64_t j0 = 0; j0 < kv_end; j0 += kTile) {
    __syncthreads();
    load_tile<T, D, kTile>(sk, kh + j0 * D, std::min<int64_t>(kTile, g.Lk - j0));
    load_tile<T, D, kTile>(sv, vh + j0 * D, std::min<int64_t>(kTile, g.Lk - j0));
    __syncthreads();
    float s[kTile / 8][4], dp[kTile / 8][4];
    warp_abt<T, D, kTile>(s, sq + warp * 16 * kS, sk);
    warp_abt<T, D, kTile>(dp, sdo + warp * 16 * kS, sv);
    for (int nb = 0; nb < kTile / 8; ++nb)
      for (int e = 0; e < 4; ++e) {
        const int64_t i = i0 + warp * 16 + frag_row(e), j = j0 + frag_col(nb, e);
        const float p = g.visible(i, j, keep_row) ? __expf(s[nb][e] * g.scale - row_lse[e >> 1]) : 0.0f;
        s[nb][e] = p * (dp[nb][e] * row_dscale[e >> 1] - row_delta[e >> 1]);  // dS
      }
    warp_pb<T, D, kTile>(acc, s, sk);
  }
  T* dqh = dq + g.q_offset(b, h);
  for (int nb = 0; nb < D / 8; ++nb)
    for (int e = 0; e < 4; ++e) {
      const int64_t i = i0 + warp * 16 + frag_row(e);
      if (i < g.Lq) dqh[i * D + frag_col(nb, e)] = to_storage<T>(acc[nb][e] * g.scale);
    }
}

// dk, dv of 64 key rows (blockIdx.x) of kv head blockIdx.y = b * Hkv + kvh, summed over the q
// heads of its group in order, each over its query tiles in order.
template <typename T, int D>
__global__ void attention_dkdv_tc_kernel(const T* q, const T* k, const T* v, const T* dout, const float* lse, const float* delta,
                                         const float* row_scale, const uint8_t* keep, T* dk, T* dv, Geometry g) {
  constexpr int kS = kStride<D>, kQ = kBackwardQueryTile;
  auto smem = dynamic_shared<T>();
  Shared<T> sk = smem, sv = smem + kTile * kS, sq = smem + 2 * kTile * kS, sdo = smem + (2 * kTile + kQ) * kS;
  EMRRG_SHARED(float, s_lse, kBackwardQueryTile);
  EMRRG_SHARED(float, s_delta, kBackwardQueryTile);
  EMRRG_SHARED(float, s_dscale, kBackwardQueryTile);
  const int warp = threadIdx.x / 32;
  const int64_t bkv = blockIdx.y, b = bkv / g.kv_heads, kvh = bkv % g.kv_heads;
  const int64_t j0 = int64_t{blockIdx.x} * kTile;
  const int64_t k_rows = std::min<int64_t>(kTile, g.Lk - j0);
  const int64_t kv_base = (b * g.kv_heads + kvh) * g.Lk * D;
  const uint8_t* keep_row = keep ? keep + b * g.Lk : nullptr;
  load_tile<T, D, kTile>(sk, k + kv_base + j0 * D, k_rows);
  load_tile<T, D, kTile>(sv, v + kv_base + j0 * D, k_rows);
  float acc_k[D / 8][4] = {}, acc_v[D / 8][4] = {};
  const int64_t first_tile = g.first_query(j0) / kQ * kQ;
  for (int64_t h = kvh * g.group(); h < (kvh + 1) * g.group(); ++h) {
    const int64_t bh = b * g.q_heads + h;
    for (int64_t i0 = first_tile; i0 < g.Lq; i0 += kQ) {
      const int64_t q_rows = std::min<int64_t>(kQ, g.Lq - i0);
      __syncthreads();
      load_tile<T, D, kQ>(sq, q + g.q_offset(b, h) + i0 * D, q_rows);
      load_tile<T, D, kQ>(sdo, dout + g.q_offset(b, h) + i0 * D, q_rows);
      for (int r = threadIdx.x; r < kQ; r += kThreads) {
        s_lse[r] = r < q_rows ? lse[bh * g.Lq + i0 + r] : 0.0f;
        s_delta[r] = r < q_rows ? delta[bh * g.Lq + i0 + r] : 0.0f;
        s_dscale[r] = r < q_rows && row_scale ? row_scale[bh * g.Lq + i0 + r] : 1.0f;
      }
      __syncthreads();
      float st[kQ / 8][4], dpt[kQ / 8][4];  // [16 keys x kQ queries]
      warp_abt<T, D, kQ>(st, sk + warp * 16 * kS, sq);
      warp_abt<T, D, kQ>(dpt, sv + warp * 16 * kS, sdo);
      for (int nb = 0; nb < kQ / 8; ++nb)
        for (int e = 0; e < 4; ++e) {
          const int c = frag_col(nb, e);
          const int64_t j = j0 + warp * 16 + frag_row(e), i = i0 + c;
          const float p = g.visible(i, j, keep_row) ? __expf(st[nb][e] * g.scale - s_lse[c]) : 0.0f;
          st[nb][e] = p * s_dscale[c];
          dpt[nb][e] = p * (dpt[nb][e] * s_dscale[c] - s_delta[c]);  // dS^T
        }
      warp_pb<T, D, kQ>(acc_v, st, sdo);
      warp_pb<T, D, kQ>(acc_k, dpt, sq);
    }
  }
  for (int nb = 0; nb < D / 8; ++nb)
    for (int e = 0; e < 4; ++e) {
      const int64_t j = j0 + warp * 16 + frag_row(e);
      if (j >= g.Lk) continue;
      dk[kv_base + j * D + frag_col(nb, e)] = to_storage<T>(acc_k[nb][e] * g.scale);
      dv[kv_base + j * D + frag_col(nb, e)] = to_storage<T>(acc_v[nb][e]);
    }
}

// ---------------------------------------------------------------- warp-per-row kernels

// A row of head_dim values spread over a warp: lane holds elements lane + 32 c.
struct WarpRow {
  float x[kMaxSimtChunks];
};

template <typename S> __device__ WarpRow load_row(const S* row, int64_t D) {
  WarpRow r;
  const int lane = threadIdx.x % 32;
  for (int c = 0; c < kMaxSimtChunks; ++c) r.x[c] = lane + 32 * c < D ? to_float(row[lane + 32 * c]) : 0.0f;
  return r;
}

template <typename S> __device__ float dot(const WarpRow& a, const S* row, int64_t D) {
  const int lane = threadIdx.x % 32;
  float acc = 0.0f;
  for (int c = 0; c < kMaxSimtChunks; ++c)
    if (lane + 32 * c < D) acc += a.x[c] * to_float(row[lane + 32 * c]);
  return rows::warp_reduce(acc, rows::Sum{});
}

// acc += w * row
template <typename S> __device__ void axpy(WarpRow& acc, float w, const S* row, int64_t D) {
  const int lane = threadIdx.x % 32;
  for (int c = 0; c < kMaxSimtChunks; ++c)
    if (lane + 32 * c < D) acc.x[c] += w * to_float(row[lane + 32 * c]);
}

// The online softmax of one query row over some keys: max m, sum l of exp(s - m), and the
// accumulator sum of exp(s - m) v.
struct SoftmaxState {
  float m = kNegInf, l = 0.0f;
  WarpRow acc{};

  template <typename S> __device__ void absorb(float s, const S* v_row, int64_t D) {
    const float m_new = fmaxf(m, s);
    const float alpha = __expf(m - m_new), p = __expf(s - m_new);
    l = l * alpha + p;
    for (int c = 0; c < kMaxSimtChunks; ++c) acc.x[c] *= alpha;
    axpy(acc, p, v_row, D);
    m = m_new;
  }
  // Adds the part (other_m, other_l, other_acc) of another set of keys.
  __device__ void merge(float other_m, float other_l, const WarpRow& other_acc) {
    const float m_new = fmaxf(m, other_m);
    if (m_new == kNegInf) return;
    const float a = __expf(m - m_new), b = __expf(other_m - m_new);
    l = l * a + other_l * b;
    for (int c = 0; c < kMaxSimtChunks; ++c) acc.x[c] = acc.x[c] * a + other_acc.x[c] * b;
    m = m_new;
  }
  // The output's element lane + 32 c (0 where no key was seen).
  __device__ float value(int c) const { return l > 0.0f ? acc.x[c] / l : 0.0f; }
  template <typename S> __device__ void write(S* out_row, float* lse, int64_t D) const {
    const int lane = threadIdx.x % 32;
    for (int c = 0; c < kMaxSimtChunks; ++c)
      if (lane + 32 * c < D) out_row[lane + 32 * c] = to_storage<S>(value(c));
    if (lane == 0) *lse = l > 0.0f ? m + logf(l) : kNegInf;
  }
};

// One warp per query row (b, h, i): out [B, Hq, Lq, D], lse [B, Hq, Lq].
template <typename S>
__global__ void attention_forward_simt_kernel(const S* q, const S* k, const S* v, const uint8_t* keep, S* out,
                                              float* lse, Geometry g, Epilogue<S> gates) {
  const int64_t row = int64_t{blockIdx.x} * kWarps + threadIdx.x / 32;
  if (row >= g.batch * g.q_heads * g.Lq) return;  // the whole warp
  const int64_t i = row % g.Lq, bh = row / g.Lq, b = bh / g.q_heads, h = bh % g.q_heads;
  const int64_t D = g.head_dim;
  const S* kh = k + g.kv_offset(b, h);
  const S* vh = v + g.kv_offset(b, h);
  const uint8_t* keep_row = keep ? keep + b * g.Lk : nullptr;
  const WarpRow qr = load_row(q + row * D, D);
  SoftmaxState state;
  for (int64_t j = 0; j < g.key_end(i); ++j)
    if (!keep_row || keep_row[j]) state.absorb(dot(qr, kh + j * D, D) * g.scale, vh + j * D, D);
  state.write(out + row * D, lse + row, D);
  if (!gates.gated) return;
  const int lane = threadIdx.x % 32;
  for (int c = 0; c < kMaxSimtChunks; ++c)
    if (lane + 32 * c < D) gates.write(b, i, g.Lq, row * D + lane + 32 * c, state.value(c));
}

// delta[r] = sum_d dout[r, d] * out[r, d], one warp per row: [rows, D] -> [rows].
template <typename S> __global__ void attention_delta_kernel(const S* out, const S* dout, float* delta, int64_t n_rows, int64_t D) {
  const int64_t row = int64_t{blockIdx.x} * kWarps + threadIdx.x / 32;
  if (row >= n_rows) return;
  const float d = dot(load_row(dout + row * D, D), out + row * D, D);
  if (threadIdx.x % 32 == 0) delta[row] = d;
}

// dq, one warp per query row. Shapes as the tensor-core dq kernel.
template <typename S>
__global__ void attention_dq_simt_kernel(const S* q, const S* k, const S* v, const S* dout, const float* lse,
                                         const float* delta, const float* row_scale, const uint8_t* keep, S* dq,
                                         Geometry g) {
  const int64_t row = int64_t{blockIdx.x} * kWarps + threadIdx.x / 32;
  if (row >= g.batch * g.q_heads * g.Lq) return;
  const int64_t i = row % g.Lq, bh = row / g.Lq, b = bh / g.q_heads, h = bh % g.q_heads;
  const int64_t D = g.head_dim;
  const S* kh = k + g.kv_offset(b, h);
  const S* vh = v + g.kv_offset(b, h);
  const uint8_t* keep_row = keep ? keep + b * g.Lk : nullptr;
  const WarpRow qr = load_row(q + row * D, D), dor = load_row(dout + row * D, D);
  const float dscale = row_scale ? row_scale[row] : 1.0f;
  WarpRow acc{};
  for (int64_t j = 0; j < g.key_end(i); ++j) {
    if (keep_row && !keep_row[j]) continue;
    const float p = __expf(dot(qr, kh + j * D, D) * g.scale - lse[row]);
    axpy(acc, p * (dot(dor, vh + j * D, D) * dscale - delta[row]) * g.scale, kh + j * D, D);
  }
  const int lane = threadIdx.x % 32;
  for (int c = 0; c < kMaxSimtChunks; ++c)
    if (lane + 32 * c < D) dq[row * D + lane + 32 * c] = to_storage<S>(acc.x[c]);
}

// dk, dv, one warp per key row (b, kvh, j), over the group's q heads and the queries that see j.
template <typename S>
__global__ void attention_dkdv_simt_kernel(const S* q, const S* k, const S* v, const S* dout, const float* lse,
                                           const float* delta, const float* row_scale, const uint8_t* keep, S* dk, S* dv,
                                           Geometry g) {
  const int64_t row = int64_t{blockIdx.x} * kWarps + threadIdx.x / 32;
  if (row >= g.batch * g.kv_heads * g.Lk) return;
  const int64_t j = row % g.Lk, bkv = row / g.Lk, b = bkv / g.kv_heads, kvh = bkv % g.kv_heads;
  const int64_t D = g.head_dim;
  const uint8_t* keep_row = keep ? keep + b * g.Lk : nullptr;
  const WarpRow kr = load_row(k + row * D, D), vr = load_row(v + row * D, D);
  WarpRow acc_k{}, acc_v{};
  if (!keep_row || keep_row[j])
    for (int64_t h = kvh * g.group(); h < (kvh + 1) * g.group(); ++h) {
      const int64_t bh = b * g.q_heads + h;
      for (int64_t i = g.first_query(j); i < g.Lq; ++i) {
        const int64_t r = bh * g.Lq + i;
        const float p = __expf(dot(kr, q + r * D, D) * g.scale - lse[r]), dscale = row_scale ? row_scale[r] : 1.0f;
        axpy(acc_v, p * dscale, dout + r * D, D);
        axpy(acc_k, p * (dot(vr, dout + r * D, D) * dscale - delta[r]) * g.scale, q + r * D, D);
      }
    }
  const int lane = threadIdx.x % 32;
  for (int c = 0; c < kMaxSimtChunks; ++c)
    if (lane + 32 * c < D) {
      dk[row * D + lane + 32 * c] = to_storage<S>(acc_k.x[c]);
      dv[row * D + lane + 32 * c] = to_storage<S>(acc_v.x[c]);
    }
}

// ---------------------------------------------------------------- decoding (Lq = 1)

// Part blockIdx.x of the keys of head blockIdx.y = b * Hq + h for its one query: the block's
// warps take the part's keys in turn, then merge in warp order.
// q, out: [B, Hq, 1, D]; parts: [B * Hq, splits, D + 2] = (m, l, acc[D])
template <typename S>
__global__ void attention_decode_split_kernel(const S* q, const S* k, const S* v, const uint8_t* keep, float* parts,
                                  int64_t keys_per_split, Geometry g) {
  EMRRG_SHARED(float, s_stats, 2 * kWarps);
  EMRRG_SHARED(float, s_acc, kWarps * kMaxSimtChunks * 32);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t bh = blockIdx.y, b = bh / g.q_heads, h = bh % g.q_heads, D = g.head_dim;
  const S* kh = k + g.kv_offset(b, h);
  const S* vh = v + g.kv_offset(b, h);
  const uint8_t* keep_row = keep ? keep + b * g.Lk : nullptr;
  const WarpRow qr = load_row(q + bh * D, D);
  const int64_t begin = int64_t{blockIdx.x} * keys_per_split, end = std::min(g.Lk, begin + keys_per_split);
  SoftmaxState state;
  for (int64_t j = begin + warp; j < end; j += kWarps)
    if (!keep_row || keep_row[j]) state.absorb(dot(qr, kh + j * D, D) * g.scale, vh + j * D, D);
  if (lane == 0) {
    s_stats[2 * warp] = state.m;
    s_stats[2 * warp + 1] = state.l;
  }
  for (int c = 0; c < kMaxSimtChunks; ++c) s_acc[(warp * kMaxSimtChunks + c) * 32 + lane] = state.acc.x[c];
  __syncthreads();
  if (warp != 0) return;
  for (int w = 1; w < kWarps; ++w) {
    WarpRow other;
    for (int c = 0; c < kMaxSimtChunks; ++c) other.x[c] = s_acc[(w * kMaxSimtChunks + c) * 32 + lane];
    state.merge(s_stats[2 * w], s_stats[2 * w + 1], other);
  }
  float* part = parts + (bh * gridDim.x + blockIdx.x) * (D + 2);
  if (lane == 0) {
    part[0] = state.m;
    part[1] = state.l;
  }
  for (int c = 0; c < kMaxSimtChunks; ++c)
    if (lane + 32 * c < D) part[2 + lane + 32 * c] = state.acc.x[c];
}

// out and lse of each head from its parts, merged in order; one warp per head.
template <typename S>
__global__ void attention_decode_combine_kernel(const float* parts, S* out, float* lse, int64_t heads, int64_t splits,
                                                int64_t D) {
  const int64_t bh = int64_t{blockIdx.x} * kWarps + threadIdx.x / 32;
  if (bh >= heads) return;
  SoftmaxState state;
  for (int64_t s = 0; s < splits; ++s) {
    const float* part = parts + (bh * splits + s) * (D + 2);
    state.merge(part[0], part[1], load_row(part + 2, D));
  }
  state.write(out + bh * D, lse + bh, D);
}

// ---------------------------------------------------------------- host side

constexpr int64_t kDecodeKeysPerSplit = 256;
constexpr int64_t kMaxDecodeSplits = 128;

unsigned warp_row_blocks(int64_t rows) { return static_cast<unsigned>((rows + kWarps - 1) / kWarps); }

template <typename Kernel> void allow_shared(Kernel kernel, size_t bytes) {
  if (bytes > 48 * 1024)
    EMRRG_CUDA_CHECK(cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel), cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          static_cast<int>(bytes)));
}

template <int D, typename T> size_t tile_bytes(int rows) { return static_cast<size_t>(rows) * kStride<D> * sizeof(T); }

// The kernels take contiguous q, k, v (dout, out) and a contiguous uint8 mask.
struct Operands {
  Tensor q, k, v;
  const uint8_t* keep;
};

Geometry checked_geometry(const char* op, const Tensor& q, const Tensor& k, const Tensor& v, bool causal,
                          const Tensor& mask, double scale) {
  for (const Tensor* t : {&q, &k, &v}) storage::check_cuda_floating(op, *t);
  if (q.dim() != 4 || k.dim() != 4 || k.shape() != v.shape() || q.dtype() != k.dtype() || q.dtype() != v.dtype() ||
      q.shape()[0] != k.shape()[0] || q.shape()[3] != k.shape()[3] || k.shape()[1] == 0 || q.shape()[1] % k.shape()[1] != 0)
    throw std::invalid_argument(std::string(op) + ": q " + q.str() + ", k " + k.str() + " and v " + v.str() +
                                " are not [b, Hq, Lq, hd], [b, Hkv, Lk, hd] x2 of one dtype with Hkv dividing Hq");
  if (mask.defined() && (mask.dtype() != DType::UInt8 || !mask.is_contiguous() || mask.device() != q.device() ||
                         mask.shape() != Shape{k.shape()[0], k.shape()[2]}))
    throw std::invalid_argument(std::string(op) + ": key_padding_mask " + mask.str() + " must be contiguous uint8 [b, Lk] on " +
                                q.device().str());
  if (q.shape()[3] > 32 * kMaxSimtChunks)
    throw std::invalid_argument(std::string(op) + ": head_dim " + std::to_string(q.shape()[3]) + " exceeds the kernels' " +
                                std::to_string(32 * kMaxSimtChunks));
  return {q.shape()[0], q.shape()[1], k.shape()[1], q.shape()[2], k.shape()[2], q.shape()[3], causal,
          static_cast<float>(scale)};
}

// Calls fn(std::integral_constant<int, D>) when T runs on the tensor cores at this head dim.
template <typename T, typename Fn> bool dispatch_tensor_core(int64_t head_dim, Fn&& fn) {
  if constexpr (mma::kTensorCoreType<T>) {
    if (head_dim == 64) return fn(std::integral_constant<int, 64>{}), true;
    if (head_dim == 128) return fn(std::integral_constant<int, 128>{}), true;
  }
  return false;
}

}  // namespace

namespace {

// attention_forward, with the gated epilogue when gates is non-null (then never the decode path).
std::vector<Tensor> forward(const char* op, const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, bool causal,
                            const Tensor& mask, double scale, const AttentionGates* gates) {
  const Geometry g = checked_geometry(op, q_in, k_in, v_in, causal, mask, scale);
  const Tensor q = to_contiguous(q_in), k = to_contiguous(k_in), v = to_contiguous(v_in);
  const uint8_t* keep = ptr<const uint8_t>(mask);
  Tensor out = empty(q.shape(), q.dtype(), q.device());
  Tensor lse = empty({g.batch, g.q_heads, g.Lq}, DType::Float32, q.device());
  if (out.numel() == 0) {
    if (lse.numel() > 0) emrrg::fill(lse, -std::numeric_limits<double>::infinity());
    return {out, lse};
  }
  const int64_t heads = g.batch * g.q_heads;
  storage::dispatch_storage(q.dtype(), [&](auto s) {
    using S = decltype(s);
    const Epilogue<S> ep = gates ? Epilogue<S>{ptr<const S>(gates->self_out), ptr<const float>(gates->gate_logit),
                                               ptr<const float>(gates->warm_up), ptr<S>(gates->gated)}
                                 : Epilogue<S>{};
    if (g.Lq == 1 && !gates) {
      const int64_t splits = std::clamp<int64_t>((g.Lk + kDecodeKeysPerSplit - 1) / kDecodeKeysPerSplit, 1, kMaxDecodeSplits);
      const int64_t keys_per_split = (g.Lk + splits - 1) / splits;
      Tensor parts = empty({heads, splits, g.head_dim + 2}, DType::Float32, q.device());
      EMRRG_LAUNCH(attention_decode_split_kernel<S>, dim3(static_cast<unsigned>(splits), static_cast<unsigned>(heads)),
                   kThreads, 0, nullptr, ptr<const S>(q), ptr<const S>(k), ptr<const S>(v), keep, ptr<float>(parts),
                   keys_per_split, g);
      EMRRG_LAUNCH(attention_decode_combine_kernel<S>, warp_row_blocks(heads), kThreads, 0, nullptr,
                   ptr<const float>(parts), ptr<S>(out), ptr<float>(lse), heads, splits, g.head_dim);
      return;
    }
    const bool tensor_cores = dispatch_tensor_core<S>(g.head_dim, [&](auto d) {
      constexpr int D = decltype(d)::value;
      const size_t bytes = 3 * tile_bytes<D, S>(kTile);
      allow_shared(attention_forward_tc_kernel<S, D>, bytes);
      EMRRG_LAUNCH((attention_forward_tc_kernel<S, D>),
                   dim3(static_cast<unsigned>((g.Lq + kTile - 1) / kTile), static_cast<unsigned>(heads)), kThreads, bytes,
                   nullptr, ptr<const S>(q), ptr<const S>(k), ptr<const S>(v), keep, ptr<S>(out), ptr<float>(lse), g, ep);
    });
    if (!tensor_cores)
      EMRRG_LAUNCH(attention_forward_simt_kernel<S>, warp_row_blocks(heads * g.Lq), kThreads, 0, nullptr, ptr<const S>(q),
                   ptr<const S>(k), ptr<const S>(v), keep, ptr<S>(out), ptr<float>(lse), g, ep);
  });
  return {out, lse};
}

void check_like_q(const char* op, const Tensor& t, const Tensor& q) {
  if (t.shape() != q.shape() || t.dtype() != q.dtype() || t.device() != q.device())
    throw std::invalid_argument(std::string(op) + ": " + t.str() + " does not match q " + q.str());
}

void check_rows(const char* op, const char* what, const Tensor& t, const Geometry& g, const Tensor& q) {
  if (t.shape() != Shape{g.batch, g.q_heads, g.Lq} || t.dtype() != DType::Float32 || t.device() != q.device())
    throw std::invalid_argument(std::string(op) + ": " + what + " " + t.str() + " is not float32 [b, Hq, Lq] on q's device");
}

}  // namespace

std::vector<Tensor> attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, const Tensor& mask,
                                      double scale) {
  return forward("attention", q, k, v, causal, mask, scale, nullptr);
}

std::vector<Tensor> gated_attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                                            double scale, const AttentionGates& gates) {
  const char* op = "gated_cross_attention";
  check_like_q(op, gates.self_out, q);
  check_like_q(op, gates.gated, q);
  if (!gates.self_out.is_contiguous() || !gates.gated.is_contiguous() || !gates.gate_logit.is_contiguous() ||
      gates.gate_logit.dtype() != DType::Float32 || gates.gate_logit.shape() != Shape{q.shape()[0], q.shape()[2]} ||
      gates.warm_up.dtype() != DType::Float32 || gates.warm_up.shape() != Shape{1})
    throw std::invalid_argument(std::string(op) + ": self_out " + gates.self_out.str() + ", gate_logit " +
                                gates.gate_logit.str() + ", warm_up " + gates.warm_up.str() +
                                " are not contiguous [b, Hq, Lq, hd], float32 [b, Lq] and float32 [1]");
  return forward(op, q, k, v, /*causal=*/false, mask, scale, &gates);
}

Tensor attention_row_dots(const Tensor& out_in, const Tensor& dout_in) {
  check_like_q("attention row dots", dout_in, out_in);
  storage::check_cuda_floating("attention row dots", out_in);
  const Tensor out = to_contiguous(out_in), dout = to_contiguous(dout_in);
  Shape shape = out.shape();
  shape.pop_back();
  Tensor delta = empty(shape, DType::Float32, out.device());
  const int64_t D = out.shape().back(), rows = delta.numel();
  if (rows == 0) return delta;
  storage::dispatch_storage(out.dtype(), [&](auto s) {
    using S = decltype(s);
    EMRRG_LAUNCH(attention_delta_kernel<S>, warp_row_blocks(rows), kThreads, 0, nullptr, ptr<const S>(out),
                 ptr<const S>(dout), ptr<float>(delta), rows, D);
  });
  return delta;
}

std::vector<Tensor> attention_backward_scaled(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                                              const Tensor& lse_in, const Tensor& dout_in, const Tensor& delta_in,
                                              const Tensor& row_scale_in, bool causal, const Tensor& mask, double scale) {
  const char* op = "attention backward";
  const Geometry g = checked_geometry(op, q_in, k_in, v_in, causal, mask, scale);
  check_like_q(op, dout_in, q_in);
  check_rows(op, "lse", lse_in, g, q_in);
  check_rows(op, "delta", delta_in, g, q_in);
  if (row_scale_in.defined()) check_rows(op, "row_scale", row_scale_in, g, q_in);
  const Tensor q = to_contiguous(q_in), k = to_contiguous(k_in), v = to_contiguous(v_in);
  const Tensor dout = to_contiguous(dout_in), lse = to_contiguous(lse_in), delta = to_contiguous(delta_in);
  const Tensor row_scale = row_scale_in.defined() ? to_contiguous(row_scale_in) : Tensor();
  const float* dscale = ptr<const float>(row_scale);
  const uint8_t* keep = ptr<const uint8_t>(mask);
  std::vector<Tensor> grads{empty(q.shape(), q.dtype(), q.device()), empty(k.shape(), k.dtype(), k.device()),
                            empty(v.shape(), v.dtype(), v.device())};
  if (q.numel() == 0 || k.numel() == 0) {  // no query or no key: nothing flows
    for (Tensor& t : grads)
      if (t.numel() > 0) emrrg::fill(t, 0.0);
    return grads;
  }
  const int64_t q_rows = g.batch * g.q_heads * g.Lq, kv_heads = g.batch * g.kv_heads;
  storage::dispatch_storage(q.dtype(), [&](auto s) {
    using S = decltype(s);
    const bool tensor_cores = dispatch_tensor_core<S>(g.head_dim, [&](auto d) {
      constexpr int D = decltype(d)::value;
      const size_t dkdv_bytes = tile_bytes<D, S>(2 * kTile + 2 * kBackwardQueryTile);
      allow_shared(attention_dkdv_tc_kernel<S, D>, dkdv_bytes);
      EMRRG_LAUNCH((attention_dkdv_tc_kernel<S, D>),
                   dim3(static_cast<unsigned>((g.Lk + kTile - 1) / kTile), static_cast<unsigned>(kv_heads)), kThreads,
                   dkdv_bytes, nullptr, ptr<const S>(q), ptr<const S>(k), ptr<const S>(v), ptr<const S>(dout),
                   ptr<const float>(lse), ptr<const float>(delta), dscale, keep, ptr<S>(grads[1]), ptr<S>(grads[2]), g);
      const size_t dq_bytes = 4 * tile_bytes<D, S>(kTile);
      allow_shared(attention_dq_tc_kernel<S, D>, dq_bytes);
      EMRRG_LAUNCH((attention_dq_tc_kernel<S, D>),
                   dim3(static_cast<unsigned>((g.Lq + kTile - 1) / kTile), static_cast<unsigned>(g.batch * g.q_heads)),
                   kThreads, dq_bytes, nullptr, ptr<const S>(q), ptr<const S>(k), ptr<const S>(v), ptr<const S>(dout),
                   ptr<const float>(lse), ptr<const float>(delta), dscale, keep, ptr<S>(grads[0]), g);
    });
    if (tensor_cores) return;
    EMRRG_LAUNCH(attention_dkdv_simt_kernel<S>, warp_row_blocks(kv_heads * g.Lk), kThreads, 0, nullptr, ptr<const S>(q),
                 ptr<const S>(k), ptr<const S>(v), ptr<const S>(dout), ptr<const float>(lse), ptr<const float>(delta),
                 dscale, keep, ptr<S>(grads[1]), ptr<S>(grads[2]), g);
    EMRRG_LAUNCH(attention_dq_simt_kernel<S>, warp_row_blocks(q_rows), kThreads, 0, nullptr, ptr<const S>(q),
                 ptr<const S>(k), ptr<const S>(v), ptr<const S>(dout), ptr<const float>(lse), ptr<const float>(delta),
                 dscale, keep, ptr<S>(grads[0]), g);
  });
  return grads;
}

std::vector<Tensor> attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                                       const Tensor& lse, const Tensor& dout, bool causal, const Tensor& mask,
                                       double scale) {
  check_like_q("attention backward", out, q);
  check_like_q("attention backward", dout, q);
  return attention_backward_scaled(q, k, v, lse, dout, attention_row_dots(out, dout), Tensor(), causal, mask, scale);
}

}  // namespace emrrg::cuda
