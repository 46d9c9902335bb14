// Warp-level tile products on the tensor cores (cuda/kernels/mma.h), shared by the attention
// and LoRA-linear kernels: a warp owns 16 rows of a tile whose operands sit in shared memory,
// row-major with a padded row stride (ldmatrix reads 8 rows at once; 8 elements of padding
// put them in different banks).
#pragma once
#include "cuda/kernels/mma.h"

namespace emrrg::cuda::warp_mma {

using mma::Shared;

constexpr unsigned kFullMask = 0xffffffffu;

// acc [16 x N] += A [16 x K] . B [N x K]^T with A's rows at a (stride kLda) and B's at b
// (stride kLdb): A fragments by ldmatrix, B fragments of two n8 blocks per ldmatrix.x4.
template <typename T, int K, int N, int kLda, int kLdb>
__device__ void abt(float (&acc)[N / 8][4], Shared<T> a, Shared<T> b) {
  static_assert(K % 16 == 0 && N % 16 == 0, "k steps of 16 and pairs of n8 blocks");
  const int lane = threadIdx.x % 32;
  for (int k0 = 0; k0 < K; k0 += 16) {
    uint32_t fa[4];
    mma::ldmatrix<4, false>(fa, a + (lane % 16) * kLda + k0 + 8 * (lane / 16));
    for (int nb = 0; nb < N / 8; nb += 2) {
      uint32_t fb[4];  // n block nb (k halves 0, 1), then nb + 1
      mma::ldmatrix<4, false>(fb, b + (nb * 8 + 8 * (lane / 16) + lane % 8) * kLdb + k0 + 8 * ((lane / 8) % 2));
      mma::mma_m16n8k16<T>(acc[nb], fa, fb, acc[nb]);
      mma::mma_m16n8k16<T>(acc[nb + 1], fa, fb + 2, acc[nb + 1]);
    }
  }
}

// acc [16 x D] += P [16 x N] . B [N x D]: P in the accumulator layout of abt (rounded to T
// here), B's rows at b (stride kLdb) read transposed.
template <typename T, int D, int N, int kLdb>
__device__ void pb(float (&acc)[D / 8][4], const float (&p)[N / 8][4], Shared<T> b) {
  const int lane = threadIdx.x % 32;
  for (int kk = 0; kk < N / 16; ++kk) {
    const uint32_t fa[4] = {mma::pack<T>(p[2 * kk][0], p[2 * kk][1]), mma::pack<T>(p[2 * kk][2], p[2 * kk][3]),
                            mma::pack<T>(p[2 * kk + 1][0], p[2 * kk + 1][1]),
                            mma::pack<T>(p[2 * kk + 1][2], p[2 * kk + 1][3])};
    for (int nb = 0; nb < D / 8; nb += 2) {
      uint32_t fb[4];  // k halves 0, 1 of n block nb, then of nb + 1
      mma::ldmatrix<4, true>(fb, b + (kk * 16 + 8 * ((lane / 8) % 2) + lane % 8) * kLdb + nb * 8 + 8 * (lane / 16));
      mma::mma_m16n8k16<T>(acc[nb], fa, fb, acc[nb]);
      mma::mma_m16n8k16<T>(acc[nb + 1], fa, fb + 2, acc[nb + 1]);
    }
  }
}

// Accumulator element e of a lane: row group + 8 (e >> 1), column 8 nb + 2t + (e & 1).
__device__ __forceinline__ int frag_row(int e) { return (threadIdx.x % 32) / 4 + 8 * (e >> 1); }
__device__ __forceinline__ int frag_col(int nb, int e) { return 8 * nb + 2 * (threadIdx.x % 4) + (e & 1); }

// Sum or max over the four lanes that share a fragment row.
__device__ __forceinline__ float quad_sum(float v) {
  v += __shfl_xor_sync(kFullMask, v, 1);
  return v + __shfl_xor_sync(kFullMask, v, 2);
}
__device__ __forceinline__ float quad_max(float v) {
  v = fmaxf(v, __shfl_xor_sync(kFullMask, v, 1));
  return fmaxf(v, __shfl_xor_sync(kFullMask, v, 2));
}

}  // namespace emrrg::cuda::warp_mma
