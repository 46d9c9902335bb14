// The CPU thread pool is OpenMP's; OpenBLAS is told the same thread count.
#pragma once
#include <cstdint>

namespace emrrg {

void set_num_threads(int n);
int num_threads();

// Runs fn(begin, end) over [0, n) in chunks of at least `grain` items, in parallel when
// there is more than one chunk.
template <typename Fn> void parallel_for(int64_t n, int64_t grain, Fn&& fn) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  const int64_t chunks = (n + grain - 1) / grain;
  if (chunks <= 1 || num_threads() <= 1) {
    fn(int64_t{0}, n);
    return;
  }
  const int64_t per = (n + chunks - 1) / chunks;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t b = c * per;
    const int64_t e = b + per < n ? b + per : n;
    if (b < e) fn(b, e);
  }
}

}  // namespace emrrg
