// Merges the dims of N same-shaped operands wherever every operand is contiguous across them
// (size-1 dims dropped), so a contiguous case becomes one long dim. Used by the CPU loops and
// by the CUDA kernels' index arithmetic.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

namespace emrrg {

template <size_t N> struct StridedLayout {
  std::vector<int64_t> shape;                  // coalesced, innermost last
  std::vector<std::array<int64_t, N>> strides;  // per dim, per operand
  int64_t numel = 1;
};

template <size_t N>
StridedLayout<N> coalesce(const std::vector<int64_t>& shape,
                          const std::array<const std::vector<int64_t>*, N>& strides) {
  StridedLayout<N> out;
  for (size_t d = 0; d < shape.size(); ++d) {
    out.numel *= shape[d];
    if (shape[d] == 1) continue;
    std::array<int64_t, N> s;
    for (size_t k = 0; k < N; ++k) s[k] = (*strides[k])[d];
    if (!out.shape.empty()) {
      bool mergeable = true;
      for (size_t k = 0; k < N; ++k)
        if (out.strides.back()[k] != s[k] * shape[d]) mergeable = false;
      if (mergeable) {
        out.shape.back() *= shape[d];
        out.strides.back() = s;
        continue;
      }
    }
    out.shape.push_back(shape[d]);
    out.strides.push_back(s);
  }
  if (out.shape.empty() && out.numel == 1) {
    out.shape.push_back(1);
    out.strides.push_back({});
  }
  return out;
}

}  // namespace emrrg
