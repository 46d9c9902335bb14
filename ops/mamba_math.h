// Per-element maths of the Mamba ops (selective scan, causal conv1d), shared by the CPU kernels
// and the CUDA kernels so both compute the same functions (mamba_ssm's and PyTorch's).
#pragma once
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

}  // namespace emrrg::mamba
