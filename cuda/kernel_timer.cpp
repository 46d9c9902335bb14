#include "cuda/kernel_timer.h"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <vector>

#include "cuda/cuda_check.h"
#include "runtime/profiler.h"

namespace emrrg::cuda {

namespace {

struct Pending {
  const char* name;
  cudaEvent_t start, stop;
  cudaStream_t stream;
  int64_t op_id, range_id;
};

// The kernels of the running trace. The device's clock is tied to the host's once per trace, at
// the first timed launch (one synchronisation), so a CPU-only run never touches CUDA.
struct TimingState {
  std::mutex mutex;
  std::atomic<bool> on{false};
  int device = -1;  // the traced device, once a kernel ran
  cudaEvent_t reference = nullptr;
  int64_t reference_ns = 0;
  std::vector<Pending> pending;
  std::vector<cudaEvent_t> spare;  // recycled across traces
};

// Never destroyed: kernels may be launched while static objects are torn down.
TimingState& timing() {
  static TimingState* s = new TimingState();
  return *s;
}

cudaEvent_t take_event(TimingState& s) {
  if (!s.spare.empty()) {
    cudaEvent_t e = s.spare.back();
    s.spare.pop_back();
    return e;
  }
  cudaEvent_t e;
  EMRRG_CUDA_CHECK(cudaEventCreate(&e));
  return e;
}

std::string stream_track(int device, cudaStream_t stream) {
  std::ostringstream s;
  s << "cuda:" << device << " stream " << (stream ? static_cast<const void*>(stream) : "0 (legacy)");
  return s.str();
}

// "(copy_kernel<E, E>)": EMRRG_LAUNCH's stringified argument, parenthesised for its commas.
std::string kernel_name(const char* launched) {
  std::string n(launched);
  if (n.size() > 2 && n.front() == '(' && n.back() == ')') n = n.substr(1, n.size() - 2);
  return n;
}

}  // namespace

std::vector<profiler::KernelEvent> collect_timed_kernels() {
  TimingState& s = timing();
  s.on = false;
  std::lock_guard<std::mutex> lock(s.mutex);
  std::vector<profiler::KernelEvent> out;
  for (const Pending& p : s.pending) {
    EMRRG_CUDA_CHECK(cudaEventSynchronize(p.stop));
    float since = 0, dur = 0;
    EMRRG_CUDA_CHECK(cudaEventElapsedTime(&since, s.reference, p.start));
    EMRRG_CUDA_CHECK(cudaEventElapsedTime(&dur, p.start, p.stop));
    out.push_back({kernel_name(p.name), s.reference_ns + static_cast<int64_t>(static_cast<double>(since) * 1e6),
                   static_cast<int64_t>(static_cast<double>(dur) * 1e6), p.op_id, p.range_id,
                   stream_track(s.device, p.stream)});
    s.spare.push_back(p.start);
    s.spare.push_back(p.stop);
  }
  s.pending.clear();
  return out;
}


void begin_kernel_timing() {
  TimingState& s = timing();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.device = -1;
  for (const Pending& p : s.pending) s.spare.insert(s.spare.end(), {p.start, p.stop});
  s.pending.clear();
  s.on = true;
}

int timed_device() { return timing().device; }

int current_cuda_device() {
  int device = 0;
  EMRRG_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

bool kernel_timing_on() { return profiler::active() && timing().on.load(std::memory_order_relaxed); }

void KernelTimer::start(const char* name, cudaStream_t stream) {
  TimingState& s = timing();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.device < 0) {
    s.device = current_cuda_device();
    if (!s.reference) EMRRG_CUDA_CHECK(cudaEventCreate(&s.reference));
    EMRRG_CUDA_CHECK(cudaEventRecord(s.reference, stream));
    EMRRG_CUDA_CHECK(cudaEventSynchronize(s.reference));
    s.reference_ns = profiler::now_ns();
  }
  if (current_cuda_device() != s.device) return;  // one device per trace
  name_ = name;
  stream_ = stream;
  op_id_ = profiler::current_op_id();
  range_id_ = profiler::current_range_id();
  start_ = take_event(s);
  EMRRG_CUDA_CHECK(cudaEventRecord(start_, stream));
}

void KernelTimer::stop() noexcept {
  TimingState& s = timing();
  std::lock_guard<std::mutex> lock(s.mutex);
  try {
    cudaEvent_t stop = take_event(s);
    EMRRG_CUDA_CHECK(cudaEventRecord(stop, stream_));
    s.pending.push_back({name_, start_, stop, stream_, op_id_, range_id_});
  } catch (const std::exception& e) {
    std::fprintf(stderr, "profiler: timing of %s dropped: %s\n", name_, e.what());
  }
}

}  // namespace emrrg::cuda
