// The op profiler: a Chrome / Perfetto trace (trace event JSON, opened by ui.perfetto.dev and
// chrome://tracing) of a few steps, and a summary table sorted by time.
//
// What is recorded, and where it comes from:
//  - ops: autograd::record() is called by every op after computing its outputs, recording or
//    not, so it is the one hook: it closes an op event named by the op with its input and output
//    shapes, dtypes and device. The event starts where the thread's previous op event or range
//    boundary ended: back-to-back ops are timed exactly, and glue code between two ops counts
//    towards the second. An op that wants exact bounds, or declares its FLOPs and bytes, opens an
//    OpRange of its own name at entry; its record() then fills that range instead.
//  - ranges (Range): layers, training phases, the backward of each tape node, loader work. They
//    nest; the summary counts self time (a range's time minus its children's), so the table's
//    total is the covered time, each moment counted once.
//  - device kernels and allocator counters come from collectors that a device backend registers
//    (cuda/ registers kernel timing with events and its caching allocator's statistics).
//  - NVTX: a backend may install push/pop hooks; every range and op then pushes an NVTX range,
//    profiling on or off (CUDA builds), so Nsight shows the model's structure.
// Off (the default) every hook costs one relaxed atomic load and a branch.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/tensor.h"

namespace emrrg::profiler {

namespace detail {
// Tracing on, or an NVTX hook installed: the hooks take their slow path.
extern std::atomic<bool> g_active;
}  // namespace detail

inline bool active() { return detail::g_active.load(std::memory_order_relaxed); }
// Events are being recorded (a session is past its warm-up and not finished).
bool tracing();

// What an op declares about one call, for the summary's GB/s and TFLOP/s.
struct Cost {
  double flops = 0;
  double bytes = 0;  // read + written
};

// A named range on the calling thread's track, and an NVTX range where a hook is installed.
class Range {
 public:
  explicit Range(std::string_view name, const char* category = "range", Cost cost = {}) {
    if (active()) begin(name, category, cost);
  }
  ~Range() {
    if (traced_ || nvtx_) end();
  }
  Range(const Range&) = delete;
  Range& operator=(const Range&) = delete;

 private:
  void begin(std::string_view name, const char* category, Cost cost);
  void end();
  bool traced_ = false, nvtx_ = false;
  uint32_t generation_ = 0;  // the session it belongs to
};

// An op's own range (category "op"), for exact bounds and its declared cost; the op's
// autograd::record() inside it attaches shapes to this event rather than adding one.
class OpRange : public Range {
 public:
  explicit OpRange(const char* op) : Range(op, "op") {}
  // cost() -> Cost, evaluated only when active().
  template <typename CostFn> OpRange(const char* op, CostFn&& cost) : Range(op, "op", active() ? cost() : Cost{}) {}
};

// Called by autograd::record() when active(): ends the op event of `op`.
void op_mark(const char* op, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs);

// Names the calling thread's track ("data loader worker 0"); cheap, callable when off.
void set_thread_name(std::string name);

// -- what a device backend plugs in
struct KernelEvent {
  std::string name;
  int64_t start_ns = 0, dur_ns = 0;  // on the profiler's clock (host steady clock)
  int64_t op_id = 0;                 // the op event that launched it, if it exists
  int64_t range_id = 0;              // else the innermost range open at launch (0: none)
  std::string track;                 // "cuda:0 stream 0x..."
};
struct CounterSample {
  std::string name;  // one counter track per name, e.g. "cpu memory"
  int64_t ts_ns = 0;
  std::vector<std::pair<std::string, double>> values;  // series within the track
};
// Measured ceilings of a device, for the summary's percentages (0: unknown).
struct Ceilings {
  double copy_gbps = 0;
  double gemm_tflops = 0;
  std::string device;
};
struct Collector {
  std::function<void()> on_start;                      // tracing begins
  std::function<std::vector<KernelEvent>()> kernels;   // tracing ended: the kernels it saw
  std::function<void(std::vector<CounterSample>&, int64_t ts_ns)> sample_memory;  // now
  std::function<Ceilings()> ceilings;
};
void register_collector(Collector collector);
// The event id kernels launched now belong to: the innermost open OpRange, or the op event the
// thread records next (before any range boundary); 0 when not tracing. current_range_id() is
// the innermost open range, for kernels launched outside any op (an optimiser step).
int64_t current_op_id();
int64_t current_range_id();
int64_t now_ns();

// NVTX hooks (cuda/ in nvcc builds); while installed, active() is true.
void install_nvtx(void (*push)(const char* name), void (*pop)(), void (*mark)(const char* name));

// -- a profiling session
struct Options {
  std::string trace_path;  // written by finish()
  int warmup_steps = 1;    // steps run untraced first (allocator and caches warm)
  int steps = 3;           // steps traced; 0: until finish()
  // true: nothing is traced and no step counted until begin(), so a command can leave out what
  // comes before the steps it profiles (emrrg train: data setup and a [pretrain] stage 1).
  bool wait_for_begin = false;
};

struct SummaryRow {
  std::string name;  // op, or range name
  std::string category;
  int64_t calls = 0;
  double total_ms = 0;  // self time on the host
  double mean_ms = 0;
  double share = 0;             // of the summary's total
  double device_ms = 0;         // kernels the op launched
  double flops = 0, bytes = 0;  // declared, summed over calls
};
struct KernelRow {
  std::string name;
  int64_t calls = 0;
  double total_ms = 0;
};
struct Summary {
  std::vector<SummaryRow> rows;  // by total_ms, descending
  std::vector<KernelRow> kernels;
  double total_ms = 0;  // sum of rows' total_ms
  Ceilings ceilings;
  int64_t events = 0;
};

// Profiling from construction to finish() (or destruction). The caller marks step boundaries;
// events are recorded in steps [warmup_steps, warmup_steps + steps), counted from construction or,
// with wait_for_begin, from begin(). One session at a time.
class Session {
 public:
  explicit Session(Options options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The steps to count start here (idempotent; a no-op unless wait_for_begin): with no warm-up,
  // tracing starts now.
  void begin();
  // The end of one step (a training step, a generated batch, an encoded batch); ignored before
  // begin() when wait_for_begin.
  void step();
  // Stops tracing, writes the trace, returns the summary (idempotent).
  const Summary& finish();

 private:
  Options options_;
  int steps_done_ = 0;
  bool begun_ = false;
  bool finished_ = false;
  Summary summary_;
};

// The summary as a table: op, calls, total, mean, share, and where kernels ran, device time,
// GB/s and TFLOP/s with the percentage of the measured ceilings.
void print_summary(const Summary& summary, std::ostream& out, size_t max_rows = 30);

}  // namespace emrrg::profiler
