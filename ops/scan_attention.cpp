#include "ops/scan_attention.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "ops/mamba_math.h"

namespace emrrg {

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument("scan_attention: " + what); }

// B or C as [batch, N, L].
Tensor input_dependent(const char* name, const Tensor& t, int64_t batch, int64_t N, int64_t L) {
  const Shape three{batch, N, L}, four{batch, 1, N, L};
  if (!t.defined() || (t.shape() != three && t.shape() != four))
    fail(std::string(name) + " " + (t.defined() ? shape_str(t.shape()) : "undefined") + " must be " +
         shape_str(four) + " or " + shape_str(three));
  return t;
}

}  // namespace

Tensor scan_attention(const Tensor& delta, const Tensor& A, const Tensor& B, const Tensor& C, const Tensor& delta_bias,
                      bool delta_softplus, const std::vector<int64_t>& rows) {
  if (!delta.defined() || delta.dim() != 3) fail("delta must be [batch, d_inner, L]");
  const int64_t batch = delta.size(0), dim = delta.size(1), L = delta.size(2);
  if (!A.defined() || A.dim() != 2 || A.size(0) != dim)
    fail("A " + (A.defined() ? shape_str(A.shape()) : std::string("undefined")) + " must be [" + std::to_string(dim) +
         ", N]");
  const int64_t N = A.size(1);
  if (delta_bias.defined() && delta_bias.shape() != Shape{dim})
    fail("delta_bias " + shape_str(delta_bias.shape()) + " must be [" + std::to_string(dim) + "]");
  for (int64_t t : rows)
    if (t < 0 || t >= L) fail("row " + std::to_string(t) + " is outside [0, " + std::to_string(L) + ")");
  const std::vector<double> raw = delta.to_vector<double>(), a = A.to_vector<double>();
  const std::vector<double> b = input_dependent("B", B, batch, N, L).to_vector<double>();
  const std::vector<double> c = input_dependent("C", C, batch, N, L).to_vector<double>();
  const std::vector<double> bias = delta_bias.defined() ? delta_bias.to_vector<double>() : std::vector<double>(dim);
  const auto Q = static_cast<int64_t>(rows.size());
  std::vector<double> alpha(static_cast<size_t>(batch * dim * Q * L), 0.0);
  std::vector<double> dt(static_cast<size_t>(L)), log_decay(static_cast<size_t>(N));
  for (int64_t bi = 0; bi < batch; ++bi)
    for (int64_t d = 0; d < dim; ++d) {
      for (int64_t t = 0; t < L; ++t)
        dt[t] = mamba::step_size(raw[(bi * dim + d) * L + t] + bias[d], delta_softplus);
      const double* Ad = &a[d * N];
      const double* Bb = &b[bi * N * L];
      const double* Cb = &c[bi * N * L];
      for (int64_t q = 0; q < Q; ++q) {
        const int64_t t = rows[q];
        double* out = &alpha[((bi * dim + d) * Q + q) * L];
        // log prod_{s < k <= t} a_k[n] = A[n] * sum_{s < k <= t} delta'_k, grown as s walks back.
        std::fill(log_decay.begin(), log_decay.end(), 0.0);
        for (int64_t s = t; s >= 0; --s) {
          double sum = 0;
          for (int64_t n = 0; n < N; ++n) sum += Cb[n * L + t] * std::exp(log_decay[n]) * dt[s] * Bb[n * L + s];
          out[s] = sum;
          for (int64_t n = 0; n < N; ++n) log_decay[n] += Ad[n] * dt[s];
        }
      }
    }
  return from_vector(alpha, {batch, dim, Q, L}, DType::Float64);
}

}  // namespace emrrg
