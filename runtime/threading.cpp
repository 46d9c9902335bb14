// A pool of num_threads() - 1 workers that sleep on a condition variable between parallel
// regions. OpenMP's default wait policy spins for a while after every region; on a machine shared
// with other jobs the spinning threads take the cores the work needs (a training step of
// bench_emrrg_step cost 7.2 CPU s on 2 threads against 2.05 s on 1).
#include "runtime/threading.h"

#include <omp.h>

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

extern "C" void openblas_set_num_threads(int);

namespace emrrg {

namespace {

thread_local bool t_in_region = false;

class ThreadPool {
 public:
  ~ThreadPool() { resize(0); }

  bool sized() const { return sized_.load(); }

  void resize(int workers) {
    std::lock_guard<std::mutex> hold(region_);
    sized_.store(true);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      ++generation_;
    }
    wake_.notify_all();
    for (std::thread& w : workers_) w.join();
    workers_.clear();
    stop_ = false;
    // A new worker waits for the next region, not for the last one it never saw.
    for (int i = 0; i < workers; ++i) workers_.emplace_back([this, start = generation_] { work(start); });
  }

  void run(int64_t chunks, const std::function<void(int64_t)>& chunk) {
    auto serial = [&] {
      for (int64_t c = 0; c < chunks; ++c) chunk(c);
    };
    if (t_in_region) return serial();  // checked first: region_ may be this thread's
    std::unique_lock<std::mutex> hold(region_, std::try_to_lock);
    if (!hold.owns_lock() || workers_.empty()) return serial();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      chunk_ = &chunk;
      chunks_ = chunks;
      next_.store(0);
      busy_ = static_cast<int>(workers_.size());
      error_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    take_chunks();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return busy_ == 0; });
    chunk_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void take_chunks() {
    t_in_region = true;
    for (int64_t c = next_.fetch_add(1); c < chunks_; c = next_.fetch_add(1)) {
      try {
        (*chunk_)(c);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
    t_in_region = false;
  }

  void work(uint64_t seen) {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (stop_) return;
      }
      take_chunks();
      std::lock_guard<std::mutex> lock(mutex_);
      if (--busy_ == 0) done_.notify_one();
    }
  }

  std::mutex region_;  // one parallel region at a time
  std::mutex mutex_;   // guards the fields below but next_
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  uint64_t generation_ = 0;
  bool stop_ = false;
  const std::function<void(int64_t)>* chunk_ = nullptr;
  int64_t chunks_ = 0;
  std::atomic<int64_t> next_{0};
  int busy_ = 0;
  std::exception_ptr error_;
  std::atomic<bool> sized_{false};
};

ThreadPool& pool() {
  static ThreadPool p;
  return p;
}

// 0 until set_num_threads: then OMP_NUM_THREADS or the core count, as before the pool replaced
// OpenMP's team (constant-initialised, so right even for a caller in another file's static init).
std::atomic<int> g_threads{0};
std::once_flag g_started;

int default_threads() {
  static const int n = omp_get_max_threads();
  return n;
}

}  // namespace

void set_num_threads(int n) {
  if (n < 1) n = 1;
  g_threads.store(n);
  omp_set_num_threads(n);  // the simulator's block runner still uses OpenMP
  openblas_set_num_threads(n);
  pool().resize(n - 1);
}

int num_threads() {
  const int n = g_threads.load();
  return n > 0 ? n : default_threads();
}

namespace detail {

void run_chunks(int64_t chunks, const std::function<void(int64_t)>& chunk) {
  std::call_once(g_started, [] {
    if (!pool().sized()) pool().resize(num_threads() - 1);
  });
  pool().run(chunks, chunk);
}

}  // namespace detail

}  // namespace emrrg
