// Iteration over N operands that share a shape but have their own strides (elements).
// Dimensions are coalesced where every operand is contiguous across them, so a contiguous
// case becomes one long inner loop. The body sees one inner row at a time:
//   body(const int64_t offsets[N], int64_t count, const int64_t inner_strides[N])
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "runtime/coalesce.h"
#include "runtime/threading.h"

namespace emrrg {

// Calls body for every inner row; rows are split across threads when numel >= grain.
template <size_t N, typename Body>
void strided_for_each(const std::vector<int64_t>& shape,
                      const std::array<const std::vector<int64_t>*, N>& strides,
                      const std::array<int64_t, N>& base_offsets, Body&& body,
                      int64_t grain = 32768) {
  StridedLayout<N> L = coalesce<N>(shape, strides);
  if (L.numel == 0) return;
  const int nd = static_cast<int>(L.shape.size());
  const int64_t inner = L.shape[nd - 1];
  const std::array<int64_t, N> inner_strides = L.strides[nd - 1];
  const int64_t rows = L.numel / inner;
  // Work items are pieces of rows, so a single long (fully coalesced) row still spreads over
  // the threads.
  const int64_t piece = std::max<int64_t>(std::min<int64_t>(inner, grain), (inner + 63) / 64);
  const int64_t pieces_per_row = (inner + piece - 1) / piece;
  const int64_t items = rows * pieces_per_row;
  const int64_t item_grain = std::max<int64_t>(1, grain / piece);
  parallel_for(items, item_grain, [&](int64_t i0, int64_t i1) {
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t r = item / pieces_per_row;
      const int64_t start = (item % pieces_per_row) * piece;
      std::array<int64_t, N> off = base_offsets;
      int64_t rem = r;
      for (int d = nd - 2; d >= 0; --d) {
        const int64_t i = rem % L.shape[d];
        rem /= L.shape[d];
        for (size_t k = 0; k < N; ++k) off[k] += i * L.strides[d][k];
      }
      for (size_t k = 0; k < N; ++k) off[k] += start * inner_strides[k];
      body(off.data(), std::min(piece, inner - start), inner_strides.data());
    }
  });
}

}  // namespace emrrg
