// Mamba's implicit attention (docs/mamba/05-implicit-attention.md): unrolling the selective scan's
// recurrence h_t = a_t h_{t-1} + delta'_t B_t u_t, a_t = exp(delta'_t A), gives
//   y_t = sum_{s <= t} alpha[t, s] u_s + D u_t   (before the gate silu(z_t)), with
//   alpha[t, s] = sum_n C_t[n] (prod_{s < k <= t} a_k[n]) delta'_s B_s[n],
// a causal L x L matrix per channel that the scan never forms. An analysis tool, not a layer: it
// costs L * N per row and channel, computes in float64 and records no gradient.
#pragma once
#include <vector>

#include "runtime/tensor.h"

namespace emrrg {

// selective_scan's arguments (ops/selective_scan.h): delta [batch, d_inner, L] raw (delta' =
// softplus(delta + delta_bias) when delta_softplus); A [d_inner, N]; B, C [batch, 1, N, L] or
// [batch, N, L]; delta_bias [d_inner] or undefined. `rows` lists the query positions t (each in
// [0, L)). Returns alpha [batch, d_inner, rows.size(), L] float64 on the CPU, 0 where s > t.
Tensor scan_attention(const Tensor& delta, const Tensor& A, const Tensor& B, const Tensor& C, const Tensor& delta_bias,
                      bool delta_softplus, const std::vector<int64_t>& rows);

}  // namespace emrrg
