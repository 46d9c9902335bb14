#include "cuda/sim/warp_matrix.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstring>

#include "cuda/sim/block_runner.h"

namespace emrrg::sim {

namespace {

constexpr unsigned kFullWarp = 0xffffffffu;

struct MmaLane {
  MmaInput type;
  const uint32_t* a;
  const uint32_t* b;
  const float* c;
  float* d;
};

float half_value(MmaInput type, uint32_t reg, int half) {
  const auto bits = static_cast<unsigned short>(half ? reg >> 16 : reg & 0xffffu);
  return type == MmaInput::BFloat16 ? __bfloat162float(__ushort_as_bfloat16(bits)) : __half2float(__ushort_as_half(bits));
}

// Fragment coordinates (PTX ISA, "Matrix Fragments for mma.m16n8k16"), group = lane / 4,
// t = lane % 4:  A register r holds row group + 8 * (r & 1), columns 2t + 8 * (r >> 1) + {0, 1};
// B register r holds rows 2t + 8r + {0, 1} of column group; C/D element i holds row
// group + 8 * (i >> 1), column 2t + (i & 1).
void mma_collective(void* const lanes[32], unsigned mask) {
  if (mask != kFullWarp) throw SimError("SIMT simulator: mma.sync.aligned needs the whole warp, got mask " + std::to_string(mask));
  const MmaInput type = static_cast<MmaLane*>(lanes[0])->type;
  float A[16][16], B[16][8];
  for (int l = 0; l < 32; ++l) {
    const auto* lane = static_cast<MmaLane*>(lanes[l]);
    if (lane->type != type) throw SimError("SIMT simulator: lanes of one mma.sync disagree on the input type");
    const int group = l / 4, t = l % 4;
    for (int r = 0; r < 4; ++r)
      for (int h = 0; h < 2; ++h) A[group + 8 * (r & 1)][2 * t + 8 * (r >> 1) + h] = half_value(type, lane->a[r], h);
    for (int r = 0; r < 2; ++r)
      for (int h = 0; h < 2; ++h) B[2 * t + 8 * r + h][group] = half_value(type, lane->b[r], h);
  }
  // Products of 16-bit floats are exact in float; the sum is formed in double and rounded
  // once (a tensor core's own rounding of the sum may differ in the last bit).
  for (int l = 0; l < 32; ++l) {
    auto* lane = static_cast<MmaLane*>(lanes[l]);
    const int group = l / 4, t = l % 4;
    float d[4];
    for (int i = 0; i < 4; ++i) {
      const int row = group + 8 * (i >> 1), col = 2 * t + (i & 1);
      double acc = lane->c[i];
      for (int k = 0; k < 16; ++k) acc += static_cast<double>(A[row][k]) * B[k][col];
      d[i] = static_cast<float>(acc);
    }
    std::memcpy(lane->d, d, sizeof d);  // d may alias c
  }
}

struct LdmatrixLane {
  int count;
  bool trans;
  const uint16_t* row;
  uint32_t* out;
};

// Lane l receives, for matrix j, elements (l / 4, 2 (l % 4) + {0, 1}) of it, or with .trans
// elements (2 (l % 4) + {0, 1}, l / 4); row r of matrix j came from lane 8j + r.
void ldmatrix_collective(void* const lanes[32], unsigned mask) {
  if (mask != kFullWarp) throw SimError("SIMT simulator: ldmatrix.sync.aligned needs the whole warp, got mask " + std::to_string(mask));
  const auto* first = static_cast<LdmatrixLane*>(lanes[0]);
  uint16_t rows[32][8];
  for (int l = 0; l < 32; ++l) {
    const auto* lane = static_cast<LdmatrixLane*>(lanes[l]);
    if (lane->count != first->count || lane->trans != first->trans)
      throw SimError("SIMT simulator: lanes of one ldmatrix disagree on its shape");
    if (l < 8 * first->count) std::memcpy(rows[l], lane->row, sizeof rows[l]);
  }
  for (int l = 0; l < 32; ++l) {
    auto* lane = static_cast<LdmatrixLane*>(lanes[l]);
    for (int j = 0; j < first->count; ++j) {
      uint16_t lo, hi;
      if (first->trans) {
        lo = rows[8 * j + 2 * (l % 4)][l / 4];
        hi = rows[8 * j + 2 * (l % 4) + 1][l / 4];
      } else {
        lo = rows[8 * j + l / 4][2 * (l % 4)];
        hi = rows[8 * j + l / 4][2 * (l % 4) + 1];
      }
      lane->out[j] = uint32_t{lo} | (uint32_t{hi} << 16);
    }
  }
}

uint64_t address_bits(const void* p) { return reinterpret_cast<uint64_t>(p); }

}  // namespace

void mma_m16n8k16(MmaInput type, const uint32_t a[4], const uint32_t b[2], const float c[4], float d[4]) {
  MmaLane lane{type, a, b, c, d};
  WarpOp op{WarpOpKind::Collective, kFullWarp, address_bits(&lane), 0, 32, __FILE__, __LINE__};
  op.collective = &mma_collective;
  op.collective_name = type == MmaInput::BFloat16 ? "mma.sync.m16n8k16 (bf16)" : "mma.sync.m16n8k16 (f16)";
  current_thread().runner->warp_op(op);
}

void ldmatrix_m8n8(int count, bool trans, const uint16_t row[8], uint32_t* out) {
  if (count != 1 && count != 2 && count != 4) throw SimError("SIMT simulator: ldmatrix takes x1, x2 or x4");
  LdmatrixLane lane{count, trans, row, out};
  WarpOp op{WarpOpKind::Collective, kFullWarp, address_bits(&lane), 0, 32, __FILE__, __LINE__};
  op.collective = &ldmatrix_collective;
  op.collective_name = trans ? "ldmatrix.m8n8.trans" : "ldmatrix.m8n8";
  current_thread().runner->warp_op(op);
}

}  // namespace emrrg::sim
