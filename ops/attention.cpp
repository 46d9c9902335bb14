#include "ops/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/tape.h"
#include "ops/attention_cpu.h"
#include "ops/device_kernels.h"
#include "ops/kernel_util.h"
#include "ops/op_cost.h"
#include "runtime/threading.h"

namespace emrrg {

namespace detail {

int64_t AttentionShape::key_end(int64_t i) const { return causal ? std::clamp<int64_t>(i + Lk - Lq + 1, 0, Lk) : Lk; }
int64_t AttentionShape::first_query(int64_t j) const { return causal ? std::max<int64_t>(0, j - (Lk - Lq)) : 0; }

namespace {

// The CPU kernels work on query tiles x key tiles; a score tile is kQueryTile x kKeyTile.
constexpr int64_t kQueryTile = 32;
constexpr int64_t kKeyTile = 64;

template <typename T>
constexpr T kNegInf = -std::numeric_limits<T>::infinity();

int64_t query_tiles(const AttentionShape& a) { return (a.Lq + kQueryTile - 1) / kQueryTile; }
int64_t key_tiles(const AttentionShape& a) { return (a.Lk + kKeyTile - 1) / kKeyTile; }

// dst [D, n] = src [n, D] transposed, so score rows are built with unit-stride updates.
template <typename T>
void transpose_tile(const T* src, int64_t n, int64_t D, T* dst) {
  for (int64_t j = 0; j < n; ++j)
    for (int64_t d = 0; d < D; ++d) dst[d * n + j] = src[j * D + d];
}

// out[i][j] = sum_d a[i][d] * bt[d][j] for i < rows, j < cols; out's rows are kKeyTile apart.
// Every sum starts at 0 and adds its products in d order, in the blocked loop as in the plain
// one, so both give the same bits; the blocked loop (two rows by a whole key tile) keeps its
// 2 x kKeyTile sums in registers across d instead of reloading them for every d.
template <typename T>
void product_transposed(const T* a, int64_t rows, const T* bt, int64_t cols, int64_t D, T* out) {
  int64_t i = 0;
  if (cols == kKeyTile)
    for (; i + 2 <= rows; i += 2) {
      T s0[kKeyTile] = {}, s1[kKeyTile] = {};
      for (int64_t d = 0; d < D; ++d) {
        const T a0 = a[i * D + d], a1 = a[(i + 1) * D + d];
        const T* b = bt + d * kKeyTile;
        for (int64_t j = 0; j < kKeyTile; ++j) {
          s0[j] += a0 * b[j];
          s1[j] += a1 * b[j];
        }
      }
      std::copy(s0, s0 + kKeyTile, out + i * kKeyTile);
      std::copy(s1, s1 + kKeyTile, out + (i + 1) * kKeyTile);
    }
  for (; i < rows; ++i) {
    T* o = out + i * kKeyTile;
    std::fill(o, o + cols, T(0));
    for (int64_t d = 0; d < D; ++d) {
      const T ad = a[i * D + d];
      const T* b = bt + d * cols;
      for (int64_t j = 0; j < cols; ++j) o[j] += ad * b[j];
    }
  }
}

// Scaled scores of queries [i0, i0 + rows) against keys [j0, j0 + cols) (kt: the key tile
// transposed), -inf where the causal rule or the padding mask hides the key.
template <typename T>
void tile_scores(const AttentionShape& a, const T* q_rows, int64_t i0, int64_t rows, const T* kt, int64_t j0,
                 int64_t cols, const uint8_t* keep_row, T* s) {
  product_transposed(q_rows, rows, kt, cols, a.head_dim, s);
  const T scale = static_cast<T>(a.scale);
  for (int64_t i = 0; i < rows; ++i) {
    T* srow = s + i * kKeyTile;
    const int64_t end = a.key_end(i0 + i);
    for (int64_t j = 0; j < cols; ++j)
      srow[j] = j0 + j < end && (!keep_row || keep_row[j0 + j]) ? srow[j] * scale : kNegInf<T>;
  }
}

// Probabilities exp(s - lse) of a score tile in place; 0 for hidden keys and for rows that see no key.
template <typename T>
void probabilities(T* s, int64_t rows, int64_t cols, const T* lse_rows) {
  for (int64_t i = 0; i < rows; ++i) {
    T* srow = s + i * kKeyTile;
    const T lse = lse_rows[i];
    for (int64_t j = 0; j < cols; ++j)
      srow[j] = lse == kNegInf<T> || srow[j] == kNegInf<T> ? T(0) : std::exp(srow[j] - lse);
  }
}

// acc[x] += factor * sum_y w(x, y) * rows[y], y ascending, with w(x, y) = w[x][y] (P V, dS K)
// or w[y][x] when transposed (P^T dout, dS^T Q); w's rows kKeyTile apart, acc's and rows' D apart.
// Zero weights are skipped. Each acc row is updated kColumns columns at a time, held in
// registers across y; every element still adds its terms in y order, so the bits do not depend
// on the blocking.
template <typename T>
void accumulate_rows(T* acc, int64_t n_acc, const T* w, bool transposed, const T* rows, int64_t n_rows, int64_t D,
                     T factor) {
  constexpr int64_t kColumns = 512 / sizeof(T);  // eight 64-byte vectors
  for (int64_t x = 0; x < n_acc; ++x)
    for (int64_t d0 = 0; d0 < D; d0 += kColumns) {
      const int64_t n = std::min(kColumns, D - d0);
      T* a = acc + x * D + d0;
      T block[kColumns];
      std::copy(a, a + n, block);
      for (int64_t y = 0; y < n_rows; ++y) {
        const T c = (transposed ? w[y * kKeyTile + x] : w[x * kKeyTile + y]) * factor;
        if (c == T(0)) continue;
        const T* r = rows + y * D + d0;
        if (n == kColumns)  // a constant trip count: the block stays in registers
          for (int64_t d = 0; d < kColumns; ++d) block[d] += c * r[d];
        else
          for (int64_t d = 0; d < n; ++d) block[d] += c * r[d];
      }
      std::copy(block, block + n, a);
    }
}

// Offsets of head (b, h) in q-like [B, Hq, L, D] and of its kv head in k-like [B, Hk, Lk, D].
int64_t q_head_offset(const AttentionShape& a, int64_t b, int64_t h) { return (b * a.q_heads + h) * a.Lq * a.head_dim; }
int64_t kv_head_offset(const AttentionShape& a, int64_t b, int64_t kvh) {
  return (b * a.kv_heads + kvh) * a.Lk * a.head_dim;
}

}  // namespace

// Forward with an online softmax, one task per (batch, q head, query tile).
template <typename T>
void attention_forward_cpu(const AttentionShape& a, const AttentionInputs<T>& in, T* out, T* lse,
                           const AttentionGates<T>* gates) {
  const int64_t D = a.head_dim, n_qt = query_tiles(a);
  parallel_for(a.batch * a.q_heads * n_qt, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> s(kQueryTile * kKeyTile), kt(kKeyTile * D), acc(kQueryTile * D), m(kQueryTile), l(kQueryTile);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t qt = task % n_qt, h = (task / n_qt) % a.q_heads, b = task / (n_qt * a.q_heads);
      const int64_t i0 = qt * kQueryTile, rows = std::min(kQueryTile, a.Lq - i0);
      const T* q = in.q + q_head_offset(a, b, h) + i0 * D;
      const T* k = in.k + kv_head_offset(a, b, h / a.group());
      const T* v = in.v + kv_head_offset(a, b, h / a.group());
      const uint8_t* keep_row = in.keep ? in.keep + b * a.Lk : nullptr;
      std::fill(acc.begin(), acc.end(), T(0));
      std::fill(m.begin(), m.end(), kNegInf<T>);
      std::fill(l.begin(), l.end(), T(0));
      const int64_t kv_end = a.key_end(i0 + rows - 1);  // later key tiles are hidden from the whole tile
      for (int64_t j0 = 0; j0 < kv_end; j0 += kKeyTile) {
        const int64_t cols = std::min(kKeyTile, kv_end - j0);
        transpose_tile(k + j0 * D, cols, D, kt.data());
        tile_scores(a, q, i0, rows, kt.data(), j0, cols, keep_row, s.data());
        for (int64_t i = 0; i < rows; ++i) {
          T* srow = s.data() + i * kKeyTile;
          T m_new = m[i];
          for (int64_t j = 0; j < cols; ++j) m_new = std::max(m_new, srow[j]);
          if (m_new == kNegInf<T>) {  // nothing seen yet: p is 0 everywhere in this tile
            std::fill(srow, srow + cols, T(0));
            continue;
          }
          const T alpha = std::exp(m[i] - m_new);  // 0 while m was -inf
          T row_sum = 0;
          for (int64_t j = 0; j < cols; ++j) {
            srow[j] = std::exp(srow[j] - m_new);
            row_sum += srow[j];
          }
          l[i] = l[i] * alpha + row_sum;
          m[i] = m_new;
          if (alpha != T(1))
            for (int64_t d = 0; d < D; ++d) acc[i * D + d] *= alpha;
        }
        accumulate_rows(acc.data(), rows, s.data(), false, v + j0 * D, cols, D, T(1));
      }
      const int64_t row0 = q_head_offset(a, b, h) + i0 * D;
      T* o = out + row0;
      T* lse_row = lse + (b * a.q_heads + h) * a.Lq + i0;
      for (int64_t i = 0; i < rows; ++i) {
        const bool seen = l[i] > T(0);
        for (int64_t d = 0; d < D; ++d) o[i * D + d] = seen ? acc[i * D + d] / l[i] : T(0);
        lse_row[i] = seen ? m[i] + std::log(l[i]) : kNegInf<T>;
      }
      if (!gates) continue;
      for (int64_t i = 0; i < rows; ++i) {
        const T g = gates->token_gate[b * a.Lq + i0 + i];
        const T* self_row = gates->self_out + row0 + i * D;
        T* gated_row = gates->gated + row0 + i * D;
        for (int64_t d = 0; d < D; ++d) gated_row[d] = self_row[d] + o[i * D + d] * g * gates->warm_up_gate;
      }
    }
  });
}

template <typename T>
void attention_row_dots(const AttentionShape& a, const T* dout, const T* out, T* delta) {
  const int64_t D = a.head_dim;
  parallel_for(a.batch * a.q_heads * a.Lq, std::max<int64_t>(1, 4096 / std::max<int64_t>(D, 1)),
               [&](int64_t begin, int64_t end) {
                 for (int64_t r = begin; r < end; ++r) {
                   T acc = 0;
                   for (int64_t d = 0; d < D; ++d) acc += dout[r * D + d] * out[r * D + d];
                   delta[r] = acc;
                 }
               });
}

// dq per (batch, q head, query tile); dk, dv per (batch, kv head, key tile), summing the group's
// q heads in order, so every gradient element has one owner and a fixed summation order.
template <typename T>
void attention_backward_cpu(const AttentionShape& a, const AttentionInputs<T>& in, const T* lse, const T* delta,
                            const T* dout, const T* dout_row_scale, T* dq, T* dk, T* dv) {
  const int64_t D = a.head_dim, n_qt = query_tiles(a), n_kt = key_tiles(a), G = a.group();
  const T scale = static_cast<T>(a.scale);
  // P and dS = P * (dP - delta) of one (query tile, key tile) pair, in p and ds; with a row
  // scale c, dP and P come out multiplied by c (dS of the scaled dout, and the weights of dv).
  auto tile_gradients = [&](int64_t b, int64_t h, int64_t i0, int64_t rows, int64_t j0, int64_t cols, const T* kt,
                            const T* vt, T* p, T* ds) {
    const int64_t row0 = (b * a.q_heads + h) * a.Lq + i0;
    tile_scores(a, in.q + row0 * D, i0, rows, kt, j0, cols, in.keep ? in.keep + b * a.Lk : nullptr, p);
    probabilities(p, rows, cols, lse + row0);
    product_transposed(dout + row0 * D, rows, vt, cols, D, ds);  // dP of the unscaled dout
    for (int64_t i = 0; i < rows; ++i) {
      T* prow = p + i * kKeyTile;
      T* dsrow = ds + i * kKeyTile;
      if (!dout_row_scale) {
        for (int64_t j = 0; j < cols; ++j) dsrow[j] = prow[j] * (dsrow[j] - delta[row0 + i]);
        continue;
      }
      const T c = dout_row_scale[row0 + i];
      for (int64_t j = 0; j < cols; ++j) {
        dsrow[j] = prow[j] * (c * dsrow[j] - delta[row0 + i]);
        prow[j] *= c;
      }
    }
  };
  parallel_for(a.batch * a.q_heads * n_qt, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> p(kQueryTile * kKeyTile), ds(p.size()), kt(kKeyTile * D), vt(kKeyTile * D);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t qt = task % n_qt, h = (task / n_qt) % a.q_heads, b = task / (n_qt * a.q_heads);
      const int64_t i0 = qt * kQueryTile, rows = std::min(kQueryTile, a.Lq - i0);
      const T* k = in.k + kv_head_offset(a, b, h / G);
      const T* v = in.v + kv_head_offset(a, b, h / G);
      T* dq_rows = dq + q_head_offset(a, b, h) + i0 * D;
      std::fill(dq_rows, dq_rows + rows * D, T(0));
      const int64_t kv_end = a.key_end(i0 + rows - 1);
      for (int64_t j0 = 0; j0 < kv_end; j0 += kKeyTile) {
        const int64_t cols = std::min(kKeyTile, kv_end - j0);
        transpose_tile(k + j0 * D, cols, D, kt.data());
        transpose_tile(v + j0 * D, cols, D, vt.data());
        tile_gradients(b, h, i0, rows, j0, cols, kt.data(), vt.data(), p.data(), ds.data());
        accumulate_rows(dq_rows, rows, ds.data(), false, k + j0 * D, cols, D, scale);
      }
    }
  });
  parallel_for(a.batch * a.kv_heads * n_kt, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> p(kQueryTile * kKeyTile), ds(p.size()), kt(kKeyTile * D), vt(kKeyTile * D);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t kt_index = task % n_kt, kvh = (task / n_kt) % a.kv_heads, b = task / (n_kt * a.kv_heads);
      const int64_t j0 = kt_index * kKeyTile, cols = std::min(kKeyTile, a.Lk - j0);
      const int64_t offset = kv_head_offset(a, b, kvh) + j0 * D;
      transpose_tile(in.k + offset, cols, D, kt.data());
      transpose_tile(in.v + offset, cols, D, vt.data());
      T* dk_rows = dk + offset;
      T* dv_rows = dv + offset;
      std::fill(dk_rows, dk_rows + cols * D, T(0));
      std::fill(dv_rows, dv_rows + cols * D, T(0));
      for (int64_t h = kvh * G; h < (kvh + 1) * G; ++h)
        for (int64_t i0 = a.first_query(j0); i0 < a.Lq; i0 += kQueryTile) {
          const int64_t rows = std::min(kQueryTile, a.Lq - i0);
          tile_gradients(b, h, i0, rows, j0, cols, kt.data(), vt.data(), p.data(), ds.data());
          const int64_t row0 = q_head_offset(a, b, h) + i0 * D;
          accumulate_rows(dv_rows, cols, p.data(), true, dout + row0, rows, D, T(1));
          accumulate_rows(dk_rows, cols, ds.data(), true, in.q + row0, rows, D, scale);
        }
    }
  });
}

template void attention_forward_cpu<float>(const AttentionShape&, const AttentionInputs<float>&, float*, float*,
                                           const AttentionGates<float>*);
template void attention_forward_cpu<double>(const AttentionShape&, const AttentionInputs<double>&, double*, double*,
                                            const AttentionGates<double>*);
template void attention_row_dots<float>(const AttentionShape&, const float*, const float*, float*);
template void attention_row_dots<double>(const AttentionShape&, const double*, const double*, double*);
template void attention_backward_cpu<float>(const AttentionShape&, const AttentionInputs<float>&, const float*,
                                            const float*, const float*, const float*, float*, float*, float*);
template void attention_backward_cpu<double>(const AttentionShape&, const AttentionInputs<double>&, const double*,
                                             const double*, const double*, const double*, double*, double*, double*);

void check_attention_inputs(const char* op, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask) {
  for (const Tensor* t : {&q, &k, &v}) check_floating(op, *t);
  check_same_dtype(op, q, k);
  check_same_dtype(op, q, v);
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4)
    op_error(op, "q, k and v must be [batch, heads, L, head_dim], got q " + shape_str(q.shape()) + ", k " +
                     shape_str(k.shape()) + ", v " + shape_str(v.shape()));
  if (k.shape() != v.shape() || q.shape()[0] != k.shape()[0] || q.shape()[3] != k.shape()[3] || k.shape()[1] == 0 ||
      q.shape()[1] % k.shape()[1] != 0)
    op_error(op, "q " + shape_str(q.shape()) + " does not fit k " + shape_str(k.shape()) + " and v " +
                     shape_str(v.shape()) +
                     " (k and v one shape, batch and head_dim equal, q_heads a multiple of kv_heads)");
  if (k.device() != q.device() || v.device() != q.device())
    op_error(op, "q on " + q.device().str() + ", k on " + k.device().str() + ", v on " + v.device().str());
  if (!mask.defined()) return;
  const DType md = mask.dtype();
  if (md != DType::Bool && md != DType::UInt8 && md != DType::Int32 && md != DType::Int64)
    op_error(op, std::string("key_padding_mask must be bool, uint8 or an integer type, got ") + dtype_name(md));
  if (mask.shape() != Shape{k.shape()[0], k.shape()[2]})
    op_error(op, "key_padding_mask " + shape_str(mask.shape()) + " must be [batch, Lk] = " +
                     shape_str({k.shape()[0], k.shape()[2]}));
}

AttentionShape attention_shape(const Tensor& q, const Tensor& k, bool causal, double scale) {
  const int64_t D = q.shape()[3];
  const double resolved = scale > 0 ? scale : 1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(D, 1)));
  return {q.shape()[0], q.shape()[1], k.shape()[1], q.shape()[2], k.shape()[2], D, causal, resolved};
}

std::vector<uint8_t> keep_bytes(const Tensor& mask) {
  if (!mask.defined()) return {};
  const std::vector<int64_t> m = mask.to_vector<int64_t>();
  std::vector<uint8_t> keep(m.size());
  for (size_t i = 0; i < m.size(); ++i) keep[i] = m[i] != 0;
  return keep;
}

}  // namespace detail

namespace {

using detail::AttentionInputs;
using detail::AttentionShape;
using detail::compute_copy;

// What the CPU backward keeps: the inputs, the output and the lse in compute type (float64 for
// float64 inputs, finer than the float32 lse returned).
struct AttentionSaved {
  AttentionShape shape;
  Tensor q, k, v, out, lse;
  std::vector<uint8_t> keep;  // [B, Lk], empty without a mask
};

template <typename T>
AttentionInputs<T> inputs_of(const Tensor& q, const Tensor& k, const Tensor& v, const std::vector<uint8_t>& keep) {
  return {q.data<T>(), k.data<T>(), v.data<T>(), keep.empty() ? nullptr : keep.data()};
}

std::vector<Tensor> attention_cpu_backward(const AttentionSaved& s, const Tensor& dout) {
  const DType dt = s.q.dtype(), ct = detail::compute_dtype(dt);
  const Tensor qc = compute_copy(s.q, ct), kc = compute_copy(s.k, ct), vc = compute_copy(s.v, ct);
  const Tensor oc = compute_copy(s.out, ct), gc = compute_copy(dout, ct);
  Tensor dq = empty(s.q.shape(), ct), dk = empty(s.k.shape(), ct), dv = empty(s.v.shape(), ct);
  detail::dispatch_compute(ct, [&](auto tag) {
    using T = decltype(tag);
    std::vector<T> delta(static_cast<size_t>(s.shape.batch * s.shape.q_heads * s.shape.Lq));
    detail::attention_row_dots<T>(s.shape, gc.data<T>(), oc.data<T>(), delta.data());
    detail::attention_backward_cpu<T>(s.shape, inputs_of<T>(qc, kc, vc, s.keep), s.lse.data<T>(), delta.data(),
                                      gc.data<T>(), nullptr, dq.data<T>(), dk.data<T>(), dv.data<T>());
    return 0;
  });
  return {convert(dq, dt), convert(dk, dt), convert(dv, dt)};
}

}  // namespace

AttentionResult attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal,
                          const Tensor& key_padding_mask, double scale) {
  detail::check_attention_inputs("attention", q, k, v, key_padding_mask);
  const profiler::OpRange range("attention", [&] { return op_cost::attention(q, k, v, causal); });
  auto saved = std::make_shared<AttentionSaved>();
  saved->shape = detail::attention_shape(q, k, causal, scale);
  saved->keep = detail::keep_bytes(key_padding_mask);
  const double resolved_scale = saved->shape.scale;
  AttentionResult result;
  if (!q.device().is_cpu()) {
    // The device kernels take the mask as contiguous uint8 (1 = attend) on q's device.
    const Tensor mask =
        saved->keep.empty() ? Tensor() : to_device(from_vector(saved->keep, key_padding_mask.shape()), q.device());
    const std::vector<Tensor> fwd =
        device_kernel("attention", q, &DeviceKernels::attention_forward)(q, k, v, causal, mask, resolved_scale);
    result = {fwd[0], fwd[1]};
    autograd::record(
        "attention", {q, k, v}, {result.out},
        [q, k, v, mask, causal, resolved_scale, out = result.out, lse = result.lse](const std::vector<Tensor>& g) {
          const Tensor dout = g[0].dtype() == q.dtype() ? g[0] : convert(g[0], q.dtype());
          return device_kernel("attention", q, &DeviceKernels::attention_backward)(q, k, v, out, lse, dout, causal,
                                                                                   mask, resolved_scale);
        });
    return result;
  }
  const DType ct = detail::compute_dtype(q.dtype());
  const Tensor qc = compute_copy(q, ct), kc = compute_copy(k, ct), vc = compute_copy(v, ct);
  const AttentionShape& a = saved->shape;
  Tensor out = empty(q.shape(), ct), lse = empty({a.batch, a.q_heads, a.Lq}, ct);
  detail::dispatch_compute(ct, [&](auto tag) {
    using T = decltype(tag);
    detail::attention_forward_cpu<T>(a, inputs_of<T>(qc, kc, vc, saved->keep), out.data<T>(), lse.data<T>());
    return 0;
  });
  result = {convert(out, q.dtype()), convert(lse, DType::Float32)};
  if (autograd::needs_grad({q, k, v})) {
    saved->q = q;
    saved->k = k;
    saved->v = v;
    saved->out = result.out;
    saved->lse = lse;
  }
  autograd::record("attention", {q, k, v}, {result.out},
                   [saved](const std::vector<Tensor>& g) { return attention_cpu_backward(*saved, g[0]); });
  return result;
}

}  // namespace emrrg
