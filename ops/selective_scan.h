// Mamba's selective scan (mamba_ssm's selective_scan_ref semantics; docs/mamba/ and NOTES §2):
//   delta' = softplus(delta + delta_bias) (threshold 20) when delta_softplus, else delta + delta_bias
//   h_t    = exp(delta'_t * A) * h_{t-1} + delta'_t * B_t * u_t        (per channel d, state n)
//   y_t    = sum_n h_t[n] * C_t[n] + D * u_t
//   out    = y * silu(z)                                              (when z is defined)
// The state is float32 whatever the input dtype. One autograd Function: the backward recomputes
// the forward inside chunks from stored chunk-boundary states instead of keeping every h_t.
#pragma once
#include <vector>

#include "runtime/tensor.h"

namespace emrrg {

struct SelectiveScanResult {
  Tensor out;         // [batch, d_inner, L], u's dtype
  Tensor last_state;  // [batch, d_inner, N], float32, h_L; not differentiable (as in mamba_ssm)
};

// u, delta: [batch, d_inner, L] (float32, bfloat16 or float16, one dtype);
// A: [d_inner, N] float32; B, C: [batch, 1, N, L] (or [batch, N, L]), u's dtype or float32;
// D: [d_inner] float32 or undefined; z: [batch, d_inner, L] u's dtype or undefined;
// delta_bias: [d_inner] float32 or undefined. Any strides. Errors name the argument and shape.
SelectiveScanResult selective_scan(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B,
                                   const Tensor& C, const Tensor& D, const Tensor& z, const Tensor& delta_bias,
                                   bool delta_softplus);

}  // namespace emrrg
