// Per-element maths of the Mamba ops (selective scan, causal conv1d), shared by the CPU kernels
// and the CUDA kernels so both compute the same functions (mamba_ssm's and PyTorch's).
#pragma once
#include <bit>
#include <cstdint>

#include "ops/scalar_math.h"

namespace emrrg::mamba {

// F.softplus with beta 1 and threshold 20: the identity above 20.
constexpr double kSoftplusThreshold = 20.0;

// delta' from raw = delta + delta_bias.
template <typename T> EMRRG_HD T step_size(T raw, bool softplus) {
  if (!softplus || raw > T(kSoftplusThreshold)) return raw;
  return std::log1p(std::exp(raw));
}
// d delta' / d raw.
template <typename T> EMRRG_HD T step_size_derivative(T raw, bool softplus) {
  if (!softplus || raw > T(kSoftplusThreshold)) return T(1);
  return scalar::sigmoid(raw);
}

template <typename T> EMRRG_HD T silu(T v) { return v * scalar::sigmoid(v); }
// d silu(v) / dv.
template <typename T> EMRRG_HD T silu_derivative(T v) {
  const T s = scalar::sigmoid(v);
  return s * (T(1) + v * (T(1) - s));
}

// exp for the CPU scan's state decay exp(delta' A), evaluated batch x d_inner x L x N times
// forward and again backward. float: Cephes' expf polynomial after Cody-Waite range reduction
// (within 2 ulp of exp), branch-free so that loops over the state vectorise (with
// -fno-trapping-math); 0 below -87.3 like expf's underflow, NaN and +-inf as expf.
// double (gradcheck): std::exp.
inline double decay_exp(double x) { return std::exp(x); }
inline float decay_exp(float x) {
  // n = round(x / ln 2) from x clamped to where 2^n is a normal float (a NaN clamps too; it
  // stays in r and so in the result).
  const float clamped = x > -87.3f ? (x < 88.3f ? x : 88.3f) : -87.3f;
  const float round_magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (clamped * 1.44269504088896341f + round_magic) - round_magic;
  const float r = x - n * 0.693359375f - n * -2.12194440e-4f;  // ln 2 in two parts
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const float two_to_n = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  return x < -87.3f ? 0.0f : p * two_to_n;
}

}  // namespace emrrg::mamba
