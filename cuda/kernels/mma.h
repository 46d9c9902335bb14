// Tensor-core building blocks for warp-level tiles: mma.sync m16n8k16 (bf16 or fp16 inputs,
// float32 accumulators) and ldmatrix from shared memory. With nvcc these are one PTX
// instruction each (sm_80 and later); in the simulator build they are the exact emulation in
// cuda/sim/warp_matrix.h. Every lane of the warp must call them together.
// Fragments, group = lane / 4, t = lane % 4 (PTX ISA "Matrix Fragments for mma.m16n8k16"):
//   A [16 x 16] row-major operand, uint32_t a[4]: a[r] = row group + 8 (r & 1), columns
//     2t + 8 (r >> 1) + {0, 1};
//   B [16 x 8] operand, uint32_t b[2]: b[r] = rows (k) 2t + 8r + {0, 1} of column group;
//   C, D [16 x 8] float c[4]: c[i] = row group + 8 (i >> 1), column 2t + (i & 1).
// Two elements share a register, the lower index in the low half.
#pragma once
#include <cstdint>
#include <type_traits>

#include "cuda/launch.h"
#if defined(EMRRG_CUDA_SIM)
#include "cuda/sim/warp_matrix.h"
#endif

namespace emrrg::cuda::mma {

// A pointer into shared memory as dynamic_shared<T>() returns it: checked in the simulator.
#if defined(EMRRG_CUDA_SIM)
template <typename T> using Shared = sim::SharedPtr<T>;
#else
template <typename T> using Shared = T*;
#endif

// dst[0..8) = src[0..8), or zeros when src is null: 16 bytes (one vector load and store on a
// GPU; both 16-byte aligned).
template <typename T> __device__ __forceinline__ void copy8(Shared<T> dst, const T* src) {
  static_assert(sizeof(T) == 2, "copy8 moves eight 16-bit elements");
#if defined(EMRRG_CUDA_SIM)
  for (int i = 0; i < 8; ++i) dst[i] = src ? src[i] : T(0.0f);
#else
  *reinterpret_cast<uint4*>(dst) = src ? *reinterpret_cast<const uint4*>(src) : make_uint4(0, 0, 0, 0);
#endif
}

template <typename T> constexpr bool kTensorCoreType = std::is_same_v<T, __nv_bfloat16> || std::is_same_v<T, __half>;

// The 16 bits of a bf16 or fp16 value.
template <typename T> __device__ __forceinline__ uint32_t bits(T v) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) return __bfloat16_as_ushort(v);
  else return __half_as_ushort(v);
}

// Two floats rounded to T, packed as one fragment register (lo in the low half).
template <typename T> __device__ __forceinline__ uint32_t pack(float lo, float hi) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return bits(__float2bfloat16(lo)) | (bits(__float2bfloat16(hi)) << 16);
  else
    return bits(__float2half(lo)) | (bits(__float2half(hi)) << 16);
}

// d = a * b + c (d may be c).
template <typename T>
__device__ __forceinline__ void mma_m16n8k16(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4]) {
  static_assert(kTensorCoreType<T>, "mma.sync m16n8k16 takes bf16 or fp16 inputs");
#if defined(EMRRG_CUDA_SIM)
  sim::mma_m16n8k16(std::is_same_v<T, __nv_bfloat16> ? sim::MmaInput::BFloat16 : sim::MmaInput::Float16, a, b, c, d);
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%10, %11, %12, %13};\n"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
  else
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%10, %11, %12, %13};\n"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
#elif defined(__CUDA_ARCH__)
  __trap();  // tensor-core kernels are built for sm_80 and later only
#endif
}

// ldmatrix.sync.aligned.m8n8.x{kCount}[.trans].shared.b16: lane l passes the address of row
// l % 8 of matrix l / 8 (16 bytes, 16-byte aligned, in shared memory; lanes from 8 * kCount
// on pass nothing that is read) and gets r[j] = its fragment of matrix j: elements
// (l / 4, 2 (l % 4) + {0, 1}), or with kTrans (2 (l % 4) + {0, 1}, l / 4), of the matrix as
// stored. Non-transposed matrices make A fragments (rows of A) and B fragments when B is
// stored [n][k]; transposed ones make B fragments from a [k][n] store.
#if defined(EMRRG_CUDA_SIM)
template <int kCount, bool kTrans, typename T> inline void ldmatrix(uint32_t (&r)[kCount], sim::SharedPtr<T> row) {
  static_assert(sizeof(T) == 2 && (kCount == 1 || kCount == 2 || kCount == 4), "ldmatrix moves x1, x2 or x4 b16 matrices");
  uint16_t values[8] = {};
  if (sim::current_thread().lane < 8 * kCount) {
    const T* address = &row[0];
    if (reinterpret_cast<uintptr_t>(address) % 16 != 0)
      throw sim::SimError("SIMT simulator: ldmatrix row address " + std::to_string(reinterpret_cast<uintptr_t>(address)) +
                          " is not 16-byte aligned");
    for (int i = 0; i < 8; ++i) values[i] = static_cast<uint16_t>(bits(static_cast<T>(row[i])));
  }
  sim::ldmatrix_m8n8(kCount, kTrans, values, r);
}
#else
template <int kCount, bool kTrans, typename T> __device__ __forceinline__ void ldmatrix(uint32_t (&r)[kCount], const T* row) {
  static_assert(sizeof(T) == 2 && (kCount == 1 || kCount == 2 || kCount == 4), "ldmatrix moves x1, x2 or x4 b16 matrices");
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(row));
  if constexpr (kCount == 4 && kTrans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(address));
  else if constexpr (kCount == 4)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(address));
  else if constexpr (kCount == 2 && kTrans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(address));
  else if constexpr (kCount == 2)
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(address));
  else if constexpr (kTrans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(address));
  else
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(address));
#elif defined(__CUDA_ARCH__)
  __trap();
#endif
}
#endif

}  // namespace emrrg::cuda::mma
