// The tensor-core instructions the kernels use (through cuda/kernels/mma.h), emulated with
// PTX's per-lane fragment layouts as warp collectives: every lane of the warp arrives with its
// registers, then every lane's result is computed from all of them.
//   mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}.{bf16,f16}.f32: D = A * B + C,
//     A 16x16 (4 registers of 2 elements per lane), B 16x8 (2), C and D 16x8 (4 floats);
//   ldmatrix.sync.aligned.m8n8.{x1,x2,x4}[.trans].shared.b16: lane l addresses row l % 8 of
//     matrix l / 8 and receives one register per matrix.
// Register halves: the element with the lower column (or k) index is in the low 16 bits.
#pragma once
#include <cstdint>

namespace emrrg::sim {

enum class MmaInput { BFloat16, Float16 };

// d = a * b + c for this lane's fragments; every lane of the warp must call it.
void mma_m16n8k16(MmaInput type, const uint32_t a[4], const uint32_t b[2], const float c[4], float d[4]);

// Distributes the rows the lanes have read: `row` is this lane's 8 elements (16 bytes, read
// by the caller from the address it supplies, for lanes below 8 * count), `out` receives
// `count` registers.
void ldmatrix_m8n8(int count, bool trans, const uint16_t row[8], uint32_t* out);

}  // namespace emrrg::sim
