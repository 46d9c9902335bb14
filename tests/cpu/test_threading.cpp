// The thread pool behind parallel_for: every index once, nested and concurrent calls, exceptions,
// and a change of thread count between calls.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "runtime/threading.h"

namespace emrrg {
namespace {

class ThreadCount {
 public:
  explicit ThreadCount(int n) : saved_(num_threads()) { set_num_threads(n); }
  ~ThreadCount() { set_num_threads(saved_); }

 private:
  int saved_;
};

// Each index of [0, n) visited once: counts[i] ends at 1.
std::vector<int> visit_counts(int64_t n, int64_t grain) {
  std::vector<std::atomic<int>> counts(static_cast<size_t>(n));
  parallel_for(n, grain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) counts[static_cast<size_t>(i)].fetch_add(1);
  });
  std::vector<int> out;
  for (const auto& c : counts) out.push_back(c.load());
  return out;
}

TEST(ThreadPool, EveryIndexRunsOnceForEveryThreadCount) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadCount tc(threads);
    for (int repeat = 0; repeat < 50; ++repeat)
      EXPECT_EQ(visit_counts(1000 + repeat, 7), std::vector<int>(static_cast<size_t>(1000 + repeat), 1)) << threads;
  }
}

TEST(ThreadPool, UsesMoreThanOneThreadWhenAsked) {
  ThreadCount tc(2);
  std::atomic<int> inside{0}, most{0};
  parallel_for(2, 1, [&](int64_t, int64_t) {
    const int now = inside.fetch_add(1) + 1;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    // Each chunk waits (up to 10 s, a loaded machine) until both run at once.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (most.load() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    inside.fetch_sub(1);
  });
  EXPECT_EQ(most.load(), 2);
}

TEST(ThreadPool, NestedCallsRunInsideTheOuterChunk) {
  ThreadCount tc(2);
  std::vector<std::atomic<int>> counts(40 * 30);
  parallel_for(40, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      parallel_for(30, 1, [&](int64_t b2, int64_t e2) {
        for (int64_t j = b2; j < e2; ++j) counts[static_cast<size_t>(i * 30 + j)].fetch_add(1);
      });
  });
  for (const auto& c : counts) EXPECT_EQ(c.load(), 1);
}

TEST(ThreadPool, CallsFromTwoThreadsAtOnceBothComplete) {
  ThreadCount tc(2);
  std::vector<int> a, b;
  std::thread other([&] { a = visit_counts(20000, 3); });
  b = visit_counts(20000, 3);
  other.join();
  EXPECT_EQ(a, std::vector<int>(20000, 1));
  EXPECT_EQ(b, std::vector<int>(20000, 1));
}

TEST(ThreadPool, AChunksExceptionReachesTheCallerAndThePoolStillWorks) {
  ThreadCount tc(2);
  EXPECT_THROW(parallel_for(100, 1,
                            [&](int64_t b, int64_t) {
                              if (b == 57) throw std::runtime_error("chunk 57");
                            }),
               std::runtime_error);
  EXPECT_EQ(visit_counts(500, 1), std::vector<int>(500, 1));
}

}  // namespace
}  // namespace emrrg
