// Host entry points of Mamba's selective-scan kernels (selective_scan.cu). Arguments as
// emrrg::selective_scan takes them (ops/selective_scan.h), already validated, on one CUDA
// device; u, delta, z float32, bfloat16 or float16, the state float32. The CPU reference is
// ops/selective_scan.cpp.
#pragma once
#include <vector>

#include "runtime/tensor.h"

namespace emrrg::cuda {

// {out [b, d, L] u's dtype, last_state [b, d, N] float32, saved [b, d, chunks, N] float32}:
// saved holds the state entering each chunk of the scan, for the backward.
std::vector<Tensor> selective_scan_forward(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B,
                                           const Tensor& C, const Tensor& D, const Tensor& z,
                                           const Tensor& delta_bias, bool delta_softplus);
// {du, ddelta, dA, dB, dC, dD, dz, ddelta_bias} in the inputs' shapes and dtypes (undefined for
// an undefined input) from the forward's inputs, its `saved` and dout [b, d, L]. The sums over
// batch, time and channels are written as partials and added in a fixed order: the same bits
// on every run.
std::vector<Tensor> selective_scan_backward(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B,
                                            const Tensor& C, const Tensor& D, const Tensor& z,
                                            const Tensor& delta_bias, bool delta_softplus, const Tensor& saved,
                                            const Tensor& dout);

}  // namespace emrrg::cuda
