// The simulator's tensor-core instructions (cuda/kernels/mma.h over cuda/sim/warp_matrix.cpp)
// against a plain GEMM: fragments built from PTX's documented per-lane layout, and fragments
// loaded from shared memory with ldmatrix (x4 for A, x2 and x2.trans for B), bf16 and fp16,
// with a chained accumulator (k = 32 as two m16n8k16 steps).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "cuda/kernels/mma.h"
#include "cuda/sim/memory.h"

namespace {

using emrrg::sim::device_free;
using emrrg::sim::device_malloc;
namespace mma = emrrg::cuda::mma;

template <typename T> struct DeviceBuffer {
  explicit DeviceBuffer(size_t n) : n(n), ptr(static_cast<T*>(device_malloc(n * sizeof(T)))) {}
  ~DeviceBuffer() { device_free(ptr); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  size_t n;
  T* ptr;
};

constexpr int kM = 16, kN = 8, kK = 32;

enum class Load { Registers, Ldmatrix, LdmatrixTrans };

// d [16, 8] = a [16, 32] @ b + c [16, 8], all row-major; b is [32, 8] (b_kn) and also given
// as its transpose [8, 32] (b_nk). One warp.
template <typename T>
__global__ void mma_tile(const T* a, const T* b_kn, const T* b_nk, const float* c, float* d, Load load) {
  const int lane = threadIdx.x, group = lane / 4, t = lane % 4;
  auto smem = emrrg::cuda::dynamic_shared<T>();
  auto sa = smem, sb_kn = smem + kM * kK, sb_nk = smem + kM * kK + kK * kN;
  for (int i = lane; i < kM * kK; i += 32) sa[i] = a[i];
  for (int i = lane; i < kK * kN; i += 32) {
    sb_kn[i] = b_kn[i];
    sb_nk[i] = b_nk[i];
  }
  __syncthreads();
  float acc[4];
  for (int i = 0; i < 4; ++i) acc[i] = c[(group + 8 * (i >> 1)) * kN + 2 * t + (i & 1)];
  for (int k0 = 0; k0 < kK; k0 += 16) {
    uint32_t fa[4], fb[2];
    if (load == Load::Registers) {
      for (int r = 0; r < 4; ++r) {
        const T* p = a + (group + 8 * (r & 1)) * kK + k0 + 2 * t + 8 * (r >> 1);
        fa[r] = mma::bits(p[0]) | (mma::bits(p[1]) << 16);
      }
      for (int r = 0; r < 2; ++r) {
        const int k = k0 + 2 * t + 8 * r;
        fb[r] = mma::bits(b_kn[k * kN + group]) | (mma::bits(b_kn[(k + 1) * kN + group]) << 16);
      }
    } else {
      // A's four 8x8 matrices: rows 0-7 / 8-15 by k 0-7 / 8-15, lane l addressing row l % 16 of
      // the half k0 + 8 (l / 16).
      mma::ldmatrix<4, false>(fa, sa + (lane % 16) * kK + k0 + 8 * (lane / 16));
      uint32_t b2[2];
      if (load == Load::Ldmatrix)  // B as [n][k]: lane l addresses column n = l % 8, k half l / 8
        mma::ldmatrix<2, false>(b2, sb_nk + (lane % 8) * kK + k0 + 8 * ((lane / 8) % 2));
      else  // B as [k][n]: lane l addresses row k = k0 + l % 16
        mma::ldmatrix<2, true>(b2, sb_kn + (k0 + lane % 16) * kN);
      fb[0] = b2[0];
      fb[1] = b2[1];
    }
    mma::mma_m16n8k16<T>(acc, fa, fb, acc);
  }
  for (int i = 0; i < 4; ++i) d[(group + 8 * (i >> 1)) * kN + 2 * t + (i & 1)] = acc[i];
}

template <typename T> T round_to(float v) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) return __float2bfloat16(v);
  else return __float2half(v);
}
template <typename T> float value(T v) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) return __bfloat162float(v);
  else return __half2float(v);
}

template <typename T> void check_against_gemm(Load load, const std::string& what) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  DeviceBuffer<T> a(kM * kK), b_kn(kK * kN), b_nk(kN * kK);
  DeviceBuffer<float> c(kM * kN), d(kM * kN);
  for (int i = 0; i < kM * kK; ++i) a.ptr[i] = round_to<T>(uniform(rng));
  for (int k = 0; k < kK; ++k)
    for (int n = 0; n < kN; ++n) b_nk.ptr[n * kK + k] = b_kn.ptr[k * kN + n] = round_to<T>(uniform(rng));
  for (int i = 0; i < kM * kN; ++i) c.ptr[i] = uniform(rng);
  const size_t shared = (kM * kK + 2 * kK * kN) * sizeof(T);
  EMRRG_LAUNCH(mma_tile<T>, dim3(1), dim3(32), shared, nullptr, a.ptr, b_kn.ptr, b_nk.ptr, c.ptr, d.ptr, load);
  for (int m = 0; m < kM; ++m)
    for (int n = 0; n < kN; ++n) {
      double expected = c.ptr[m * kN + n];
      for (int k = 0; k < kK; ++k) expected += double{value(a.ptr[m * kK + k])} * value(b_kn.ptr[k * kN + n]);
      // Two roundings to float (one per k step of 16).
      EXPECT_NEAR(d.ptr[m * kN + n], expected, 2e-6 * (1 + std::abs(expected))) << what << " at (" << m << ", " << n << ")";
    }
}

TEST(SimulatorMma, RegisterFragmentsFollowThePtxLayout) {
  check_against_gemm<__nv_bfloat16>(Load::Registers, "bf16");
  check_against_gemm<__half>(Load::Registers, "fp16");
}

TEST(SimulatorMma, LdmatrixLoadsFragmentsFromSharedMemory) {
  check_against_gemm<__nv_bfloat16>(Load::Ldmatrix, "bf16 ldmatrix");
  check_against_gemm<__half>(Load::Ldmatrix, "fp16 ldmatrix");
}

TEST(SimulatorMma, LdmatrixTransLoadsBStoredByRows) {
  check_against_gemm<__nv_bfloat16>(Load::LdmatrixTrans, "bf16 ldmatrix.trans");
  check_against_gemm<__half>(Load::LdmatrixTrans, "fp16 ldmatrix.trans");
}

// Lane 31 leaves before the instruction that needs the whole warp.
__global__ void mma_with_an_exited_lane(float* d) {
  if (threadIdx.x == 31) return;
  uint32_t a[4] = {}, b[2] = {};
  float acc[4] = {};
  mma::mma_m16n8k16<__nv_bfloat16>(acc, a, b, acc);
  d[threadIdx.x] = acc[0];
}

__global__ void ldmatrix_misaligned(float* d) {
  auto smem = emrrg::cuda::dynamic_shared<__half>();
  for (int i = threadIdx.x; i < 8 * 9; i += 32) smem[i] = __float2half(1.0f);
  __syncthreads();
  uint32_t r[1];
  mma::ldmatrix<1, false>(r, smem + 1 + (threadIdx.x % 8) * 8);  // 2 bytes off a 16-byte boundary
  d[threadIdx.x] = static_cast<float>(r[0]);
}

TEST(SimulatorMma, MisuseIsReported) {
  DeviceBuffer<float> d(32);
  try {
    EMRRG_LAUNCH(mma_with_an_exited_lane, dim3(1), dim3(32), 0, nullptr, d.ptr);
    FAIL() << "an mma.sync missing a lane ran";
  } catch (const emrrg::sim::SimError& e) {
    EXPECT_NE(std::string(e.what()).find("which has exited"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("mma.sync"), std::string::npos) << e.what();
  }
  try {
    EMRRG_LAUNCH(ldmatrix_misaligned, dim3(1), dim3(32), 8 * 9 * sizeof(__half) + 16, nullptr, d.ptr);
    FAIL() << "a misaligned ldmatrix ran";
  } catch (const emrrg::sim::SimError& e) {
    EXPECT_NE(std::string(e.what()).find("not 16-byte aligned"), std::string::npos) << e.what();
  }
}

}  // namespace
