#include "runtime/profiler.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <ostream>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "runtime/device.h"

namespace emrrg::profiler {

namespace detail {
std::atomic<bool> g_active{false};
}  // namespace detail

namespace {

struct Event {
  std::string name;
  const char* category;
  int64_t ts_ns, dur_ns;  // dur_ns < 0 while the range is open
  int64_t id;             // op events and op ranges: kernels refer to it
  Cost cost;
  std::string inputs, outputs, device;  // ops only
};

// One thread's events; the registry keeps it after the thread ends, until the next session.
struct ThreadBuffer {
  std::mutex mutex;
  int tid = 0;
  std::string name;
  std::vector<Event> events;
};

struct OpenRange {
  size_t event;  // index into the buffer's events
  bool op, claimed;
};

struct Global {
  std::mutex mutex;
  std::vector<std::shared_ptr<ThreadBuffer>> buffers;
  std::vector<Collector> collectors;
  std::vector<CounterSample> counters;
  std::atomic<bool> tracing{false};
  std::atomic<uint32_t> generation{0};
  std::atomic<int64_t> next_id{1};
  std::atomic<int64_t> last_sample_ns{0};
  std::atomic<int64_t> start_ns{0};  // read by every thread's first event of a session
  int64_t stop_ns = 0;
  void (*nvtx_push)(const char*) = nullptr;
  void (*nvtx_pop)() = nullptr;
  void (*nvtx_mark)(const char*) = nullptr;
  bool session_open = false;
};

// Never destroyed: threads may record while static objects are torn down.
Global& global() {
  static Global* g = new Global();
  return *g;
}

struct ThreadState {
  std::shared_ptr<ThreadBuffer> buffer;
  uint32_t generation = 0;
  int64_t last_mark_ns = 0;
  int64_t pending_op_id = 0;  // id of the next op event
  std::vector<OpenRange> open;
};

thread_local ThreadState tls;
thread_local std::string tls_name;

// The calling thread's state for the running session; resets what an earlier session left.
ThreadState& state() {
  Global& g = global();
  if (!tls.buffer) {
    auto b = std::make_shared<ThreadBuffer>();
    std::lock_guard<std::mutex> lock(g.mutex);
    b->tid = static_cast<int>(g.buffers.size()) + 1;
    b->name = tls_name.empty() ? "thread " + std::to_string(b->tid) : tls_name;
    g.buffers.push_back(b);
    tls.buffer = b;
  }
  const uint32_t gen = g.generation.load(std::memory_order_acquire);
  if (tls.generation != gen) {
    tls.generation = gen;
    tls.open.clear();
    tls.last_mark_ns = g.start_ns.load(std::memory_order_relaxed);
    tls.pending_op_id = g.next_id.fetch_add(1);
  }
  return tls;
}

std::string tensors_str(const std::vector<Tensor>& ts) {
  std::string s;
  for (const Tensor& t : ts) {
    if (!s.empty()) s += ", ";
    s += t.defined() ? shape_str(t.shape()) + " " + dtype_name(t.dtype()) : "undefined";
  }
  return s;
}

void sample_memory(int64_t now) {
  Global& g = global();
  const int64_t last = g.last_sample_ns.load(std::memory_order_relaxed);
  if (now - last < 20'000) return;  // every 20 us at most: a counter track, not a log
  g.last_sample_ns.store(now, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(g.mutex);
  const CpuAllocatorStats cpu = cpu_allocator_stats();
  g.counters.push_back({"cpu memory (MiB)", now,
                        {{"live", static_cast<double>(cpu.live_bytes) / (1 << 20)},
                         {"cached", static_cast<double>(cpu.cached_bytes) / (1 << 20)}}});
  for (const Collector& c : g.collectors)
    if (c.sample_memory) c.sample_memory(g.counters, now);
}

void start_tracing() {
  Global& g = global();
  {
    std::lock_guard<std::mutex> lock(g.mutex);
    for (auto& b : g.buffers) {
      std::lock_guard<std::mutex> block(b->mutex);
      b->events.clear();
    }
    g.counters.clear();
    g.start_ns = now_ns();
    g.last_sample_ns = 0;
  }
  g.generation.fetch_add(1, std::memory_order_release);
  for (const Collector& c : g.collectors)
    if (c.on_start) c.on_start();
  g.tracing = true;
  detail::g_active = true;
}

struct Collected {
  std::vector<std::pair<std::shared_ptr<ThreadBuffer>, std::vector<Event>>> threads;
  std::vector<KernelEvent> kernels;
  std::vector<CounterSample> counters;
  Ceilings ceilings;
};

Collected stop_tracing() {
  Global& g = global();
  g.tracing = false;
  detail::g_active = g.nvtx_push != nullptr;
  Collected c;
  std::lock_guard<std::mutex> lock(g.mutex);
  g.stop_ns = now_ns();
  g.generation.fetch_add(1, std::memory_order_release);  // ranges still open belong to no session
  for (auto& b : g.buffers) {
    std::lock_guard<std::mutex> block(b->mutex);
    if (b->events.empty()) continue;
    std::vector<Event> events = std::move(b->events);
    b->events.clear();
    for (Event& e : events)
      if (e.dur_ns < 0) e.dur_ns = g.stop_ns - e.ts_ns;  // open at the end: cut there
    c.threads.emplace_back(b, std::move(events));
  }
  c.counters = std::move(g.counters);
  g.counters.clear();
  for (const Collector& col : g.collectors) {
    if (col.kernels) {
      std::vector<KernelEvent> k = col.kernels();
      c.kernels.insert(c.kernels.end(), k.begin(), k.end());
    }
    if (col.ceilings && c.ceilings.device.empty()) c.ceilings = col.ceilings();
  }
  return c;
}

// Self time of every event of one thread: its duration less that of its direct children.
std::vector<int64_t> self_times(const std::vector<Event>& events) {
  std::vector<size_t> order(events.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (events[a].ts_ns != events[b].ts_ns) return events[a].ts_ns < events[b].ts_ns;
    return events[a].dur_ns > events[b].dur_ns;
  });
  std::vector<int64_t> self(events.size());
  std::vector<size_t> stack;
  for (size_t i : order) {
    const Event& e = events[i];
    self[i] = e.dur_ns;
    while (!stack.empty() && events[stack.back()].ts_ns + events[stack.back()].dur_ns <= e.ts_ns) stack.pop_back();
    if (!stack.empty()) self[stack.back()] -= e.dur_ns;
    stack.push_back(i);
  }
  return self;
}

Summary summarise(const Collected& c) {
  Summary s;
  s.ceilings = c.ceilings;
  std::unordered_map<int64_t, double> device_ms_of_op;
  std::map<std::string, KernelRow> kernels;
  std::unordered_set<int64_t> ids;
  for (const auto& [buffer, events] : c.threads)
    for (const Event& e : events) ids.insert(e.id);
  for (const KernelEvent& k : c.kernels) {
    const int64_t owner = ids.count(k.op_id) ? k.op_id : k.range_id;
    device_ms_of_op[owner] += static_cast<double>(k.dur_ns) * 1e-6;
    KernelRow& r = kernels[k.name];
    r.name = k.name;
    ++r.calls;
    r.total_ms += static_cast<double>(k.dur_ns) * 1e-6;
  }
  std::map<std::pair<std::string, std::string>, SummaryRow> rows;
  for (const auto& [buffer, events] : c.threads) {
    const std::vector<int64_t> self = self_times(events);
    for (size_t i = 0; i < events.size(); ++i) {
      const Event& e = events[i];
      SummaryRow& r = rows[{e.category, e.name}];
      r.name = e.name;
      r.category = e.category;
      ++r.calls;
      r.total_ms += static_cast<double>(self[i]) * 1e-6;
      r.flops += e.cost.flops;
      r.bytes += e.cost.bytes;
      if (e.id) {
        auto it = device_ms_of_op.find(e.id);
        if (it != device_ms_of_op.end()) r.device_ms += it->second;
      }
      ++s.events;
    }
  }
  for (auto& [key, r] : rows) {
    r.mean_ms = r.total_ms / static_cast<double>(r.calls);
    s.total_ms += r.total_ms;
    s.rows.push_back(r);
  }
  for (SummaryRow& r : s.rows) r.share = s.total_ms > 0 ? r.total_ms / s.total_ms : 0;
  std::stable_sort(s.rows.begin(), s.rows.end(),
                   [](const SummaryRow& a, const SummaryRow& b) { return a.total_ms > b.total_ms; });
  for (auto& [name, r] : kernels) s.kernels.push_back(r);
  std::stable_sort(s.kernels.begin(), s.kernels.end(),
                   [](const KernelRow& a, const KernelRow& b) { return a.total_ms > b.total_ms; });
  return s;
}

double us_since(int64_t ns, int64_t origin) { return static_cast<double>(ns - origin) * 1e-3; }

void write_trace(const Collected& c, const std::string& path) {
  const int64_t origin = global().start_ns.load(std::memory_order_relaxed);
  nlohmann::json events = nlohmann::json::array();
  auto meta = [&](const char* what, int pid, int tid, const std::string& name) {
    events.push_back({{"ph", "M"}, {"name", what}, {"pid", pid}, {"tid", tid}, {"args", {{"name", name}}}});
  };
  meta("process_name", 1, 0, "host");
  for (const auto& [buffer, list] : c.threads) {
    meta("thread_name", 1, buffer->tid, buffer->name);
    for (const Event& e : list) {
      nlohmann::json args = nlohmann::json::object();
      if (!e.device.empty()) {
        args["inputs"] = e.inputs;
        args["outputs"] = e.outputs;
        args["device"] = e.device;
      }
      if (e.cost.flops > 0) args["flops"] = e.cost.flops;
      if (e.cost.bytes > 0) args["bytes"] = e.cost.bytes;
      args["id"] = e.id;
      events.push_back({{"ph", "X"}, {"name", e.name}, {"cat", e.category}, {"pid", 1}, {"tid", buffer->tid},
                        {"ts", us_since(e.ts_ns, origin)}, {"dur", static_cast<double>(e.dur_ns) * 1e-3},
                        {"args", args}});
    }
  }
  // Device kernels: one process, a track per stream.
  std::map<std::string, int> kernel_tracks;
  for (const KernelEvent& k : c.kernels) {
    auto [it, added] = kernel_tracks.emplace(k.track, static_cast<int>(kernel_tracks.size()) + 1);
    if (added) {
      if (it->second == 1) meta("process_name", 2, 0, "device kernels");
      meta("thread_name", 2, it->second, k.track);
    }
    events.push_back({{"ph", "X"}, {"name", k.name}, {"cat", "kernel"}, {"pid", 2}, {"tid", it->second},
                      {"ts", us_since(k.start_ns, origin)}, {"dur", static_cast<double>(k.dur_ns) * 1e-3},
                      {"args", {{"op_id", k.op_id}, {"range_id", k.range_id}}}});
  }
  for (const CounterSample& s : c.counters) {
    nlohmann::json args = nlohmann::json::object();
    for (const auto& [series, value] : s.values) args[series] = value;
    events.push_back({{"ph", "C"}, {"name", s.name}, {"pid", 1}, {"ts", us_since(s.ts_ns, origin)}, {"args", args}});
  }
  std::ofstream f(path);
  if (!f) throw std::runtime_error("profiler: cannot write the trace " + path);
  f << nlohmann::json{{"traceEvents", events}, {"displayTimeUnit", "ms"}}.dump() << "\n";
  if (!f) throw std::runtime_error("profiler: error writing the trace " + path);
}

}  // namespace

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool tracing() { return global().tracing.load(std::memory_order_relaxed); }

void Range::begin(std::string_view name, const char* category, Cost cost) {
  Global& g = global();
  if (g.nvtx_push) {
    g.nvtx_push(std::string(name).c_str());
    nvtx_ = true;
  }
  if (!tracing()) return;
  ThreadState& st = state();
  const int64_t now = now_ns();
  const bool op = std::string_view(category) == "op";
  // Every range has an id (kernels launched in it refer to it); marks never cross a boundary, so
  // the pending op id is renewed.
  const int64_t id = g.next_id.fetch_add(1);
  st.pending_op_id = g.next_id.fetch_add(1);
  {
    std::lock_guard<std::mutex> lock(st.buffer->mutex);
    st.buffer->events.push_back({std::string(name), category, now, -1, id, cost, {}, {}, {}});
    st.open.push_back({st.buffer->events.size() - 1, op, false});
  }
  st.last_mark_ns = now;
  traced_ = true;
  generation_ = st.generation;
}

void Range::end() {
  Global& g = global();
  if (nvtx_ && g.nvtx_pop) g.nvtx_pop();
  if (!traced_) return;
  if (g.generation.load(std::memory_order_acquire) != generation_) return;  // the session ended meanwhile
  ThreadState& st = state();
  if (st.open.empty()) return;
  const int64_t now = now_ns();
  {
    std::lock_guard<std::mutex> lock(st.buffer->mutex);
    Event& e = st.buffer->events[st.open.back().event];
    e.dur_ns = now - e.ts_ns;
  }
  st.open.pop_back();
  st.last_mark_ns = now;
  st.pending_op_id = g.next_id.fetch_add(1);
}

void op_mark(const char* op, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs) {
  Global& g = global();
  if (g.nvtx_mark) g.nvtx_mark(op);
  if (!tracing()) return;
  ThreadState& st = state();
  const int64_t now = now_ns();
  const Tensor* first = nullptr;
  for (const Tensor& t : outputs)
    if (t.defined()) first = first ? first : &t;
  const std::string device = first ? first->device().str() : "cpu";
  {
    std::lock_guard<std::mutex> lock(st.buffer->mutex);
    if (!st.open.empty() && st.open.back().op && !st.open.back().claimed &&
        st.buffer->events[st.open.back().event].name == op) {
      Event& e = st.buffer->events[st.open.back().event];
      e.inputs = tensors_str(inputs);
      e.outputs = tensors_str(outputs);
      e.device = device;
      st.open.back().claimed = true;
    } else {
      st.buffer->events.push_back({op, "op", st.last_mark_ns, now - st.last_mark_ns, st.pending_op_id, {},
                                   tensors_str(inputs), tensors_str(outputs), device});
      st.pending_op_id = g.next_id.fetch_add(1);
      st.last_mark_ns = now;
    }
  }
  sample_memory(now);
}

void set_thread_name(std::string name) {
  tls_name = std::move(name);
  if (tls.buffer) {
    std::lock_guard<std::mutex> lock(tls.buffer->mutex);
    tls.buffer->name = tls_name;
  }
}

void register_collector(Collector collector) {
  Global& g = global();
  std::lock_guard<std::mutex> lock(g.mutex);
  g.collectors.push_back(std::move(collector));
}

int64_t current_op_id() {
  if (!tracing()) return 0;
  ThreadState& st = state();
  for (auto it = st.open.rbegin(); it != st.open.rend(); ++it)
    if (it->op) {
      std::lock_guard<std::mutex> lock(st.buffer->mutex);
      return st.buffer->events[it->event].id;
    }
  return st.pending_op_id;
}

int64_t current_range_id() {
  if (!tracing()) return 0;
  ThreadState& st = state();
  if (st.open.empty()) return 0;
  std::lock_guard<std::mutex> lock(st.buffer->mutex);
  return st.buffer->events[st.open.back().event].id;
}

void install_nvtx(void (*push)(const char*), void (*pop)(), void (*mark)(const char*)) {
  Global& g = global();
  g.nvtx_push = push;
  g.nvtx_pop = pop;
  g.nvtx_mark = mark;
  detail::g_active = push != nullptr || g.tracing;
}

Session::Session(Options options) : options_(std::move(options)) {
  // A path that cannot be written fails now, not after a long run.
  if (!options_.trace_path.empty() && !std::ofstream(options_.trace_path))
    throw std::runtime_error("profiler: cannot write the trace " + options_.trace_path);
  Global& g = global();
  {
    std::lock_guard<std::mutex> lock(g.mutex);
    if (g.session_open) throw std::logic_error("profiler: a session is already running");
    g.session_open = true;
  }
  if (tls_name.empty()) set_thread_name("main");
  if (!options_.wait_for_begin) begin();
}

Session::~Session() {
  try {
    finish();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "profiler: %s\n", e.what());
  }
}

void Session::begin() {
  if (begun_ || finished_) return;
  begun_ = true;
  if (options_.warmup_steps <= 0) start_tracing();
}

void Session::step() {
  if (finished_ || !begun_) return;
  ++steps_done_;
  if (steps_done_ == options_.warmup_steps) start_tracing();
  if (options_.steps > 0 && steps_done_ == options_.warmup_steps + options_.steps) finish();
}

const Summary& Session::finish() {
  if (finished_) return summary_;
  finished_ = true;
  Global& g = global();
  const bool was_tracing = tracing();
  const Collected c = was_tracing ? stop_tracing() : Collected{};
  {
    std::lock_guard<std::mutex> lock(g.mutex);
    g.session_open = false;
  }
  summary_ = summarise(c);
  if (!options_.trace_path.empty()) write_trace(c, options_.trace_path);
  return summary_;
}

void print_summary(const Summary& s, std::ostream& out, size_t max_rows) {
  const bool device = std::any_of(s.rows.begin(), s.rows.end(), [](const SummaryRow& r) { return r.device_ms > 0; });
  const std::ios_base::fmtflags flags = out.flags();
  const std::streamsize precision = out.precision();
  out << "profile: " << s.events << " events, " << std::fixed << std::setprecision(3) << s.total_ms
      << " ms covered (self time: each moment counted once)";
  if (s.ceilings.copy_gbps > 0)
    out << "; " << s.ceilings.device << " ceilings: copy " << std::setprecision(0) << s.ceilings.copy_gbps
        << " GB/s, bf16 GEMM " << std::setprecision(1) << s.ceilings.gemm_tflops << " TFLOP/s";
  out << "\n";
  out << std::left << std::setw(34) << "name" << std::right << std::setw(8) << "calls" << std::setw(12) << "total ms"
      << std::setw(11) << "mean ms" << std::setw(8) << "share";
  if (device) out << std::setw(12) << "device ms";
  // Rates from the declared cost over device time where kernels ran, else over host time.
  out << std::setw(9) << "GB/s" << std::setw(9) << "TFLOP/s";
  if (s.ceilings.copy_gbps > 0) out << std::setw(8) << "%copy" << std::setw(8) << "%gemm";
  out << "\n";
  size_t shown = 0;
  for (const SummaryRow& r : s.rows) {
    if (shown++ == max_rows) {
      out << "  ... " << s.rows.size() - max_rows << " more rows in the trace\n";
      break;
    }
    const std::string& cat = r.category;
    std::string name = cat == "op" ? r.name : cat == "backward" ? r.name + " (backward)" : r.name + " [" + cat + "]";
    if (name.size() > 33) name = name.substr(0, 30) + "...";
    out << std::left << std::setw(34) << name << std::right << std::setw(8) << r.calls << std::setw(12)
        << std::setprecision(3) << r.total_ms << std::setw(11) << r.mean_ms << std::setw(7) << std::setprecision(1)
        << 100 * r.share << "%";
    if (device) out << std::setw(12) << std::setprecision(3) << r.device_ms;
    const double seconds = (r.device_ms > 0 ? r.device_ms : r.total_ms) * 1e-3;
    if ((r.bytes > 0 || r.flops > 0) && seconds > 0) {
      const double gbps = r.bytes / seconds / 1e9, tflops = r.flops / seconds / 1e12;
      out << std::setw(9) << std::setprecision(1) << gbps << std::setw(9) << std::setprecision(3) << tflops;
      if (s.ceilings.copy_gbps > 0 && r.device_ms > 0)
        out << std::setw(7) << std::setprecision(1) << 100 * gbps / s.ceilings.copy_gbps << "%" << std::setw(7)
            << 100 * tflops / s.ceilings.gemm_tflops << "%";
    }
    out << "\n";
  }
  if (!s.kernels.empty()) {
    out << std::left << std::setw(42) << "kernel" << std::right << std::setw(8) << "calls" << std::setw(12)
        << "device ms" << std::setw(11) << "mean us" << "\n";
    for (const KernelRow& k : s.kernels)
      out << std::left << std::setw(42) << k.name.substr(0, 41) << std::right << std::setw(8) << k.calls
          << std::setw(12) << std::setprecision(3) << k.total_ms << std::setw(11) << std::setprecision(1)
          << 1e3 * k.total_ms / static_cast<double>(k.calls) << "\n";
  }
  out.flags(flags);
  out.precision(precision);
}

}  // namespace emrrg::profiler
