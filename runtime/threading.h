// The CPU thread pool (threading.cpp); OpenBLAS is told the same thread count.
#pragma once
#include <cstdint>
#include <functional>

namespace emrrg {

void set_num_threads(int n);
int num_threads();

namespace detail {
// Runs chunk(c) for every c in [0, chunks) on the pool (the caller takes part) and returns when all
// have run; the first exception thrown by a chunk is rethrown here. A call from inside a chunk, or
// while another thread holds the pool, runs the chunks in order on the calling thread.
void run_chunks(int64_t chunks, const std::function<void(int64_t)>& chunk);
}  // namespace detail

// Runs fn(begin, end) over [0, n) in chunks of at least `grain` items, in parallel when
// there is more than one chunk. Which thread runs a chunk is not fixed, so fn's result must not
// depend on it (every kernel's chunks write disjoint outputs).
template <typename Fn> void parallel_for(int64_t n, int64_t grain, Fn&& fn) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  const int64_t chunks = (n + grain - 1) / grain;
  if (chunks <= 1 || num_threads() <= 1) {
    fn(int64_t{0}, n);
    return;
  }
  const int64_t per = (n + chunks - 1) / chunks;
  detail::run_chunks(chunks, [&](int64_t c) {
    const int64_t b = c * per;
    const int64_t e = b + per < n ? b + per : n;
    if (b < e) fn(b, e);
  });
}

}  // namespace emrrg
