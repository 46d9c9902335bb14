#include "cuda/sim/block_runner.h"

#include <omp.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <sstream>

#include "cuda/sim/memory.h"

namespace emrrg::sim {

namespace {

thread_local ThreadContext* running = nullptr;

std::mutex opt_in_mutex;
std::map<const void*, int>& opt_in_limits() {
  static std::map<const void*, int> limits;
  return limits;
}

const char* op_name(WarpOpKind k) {
  switch (k) {
    case WarpOpKind::Sync: return "__syncwarp";
    case WarpOpKind::Shfl: return "__shfl_sync";
    case WarpOpKind::ShflUp: return "__shfl_up_sync";
    case WarpOpKind::ShflDown: return "__shfl_down_sync";
    case WarpOpKind::ShflXor: return "__shfl_xor_sync";
    case WarpOpKind::Ballot: return "__ballot_sync";
    case WarpOpKind::Any: return "__any_sync";
    case WarpOpKind::All: return "__all_sync";
    case WarpOpKind::Collective: return "a warp-collective instruction";
  }
  return "?";
}

std::string op_name(const WarpOp& op) {
  return op.kind == WarpOpKind::Collective && op.collective_name ? op.collective_name : op_name(op.kind);
}

std::string hex(unsigned v) {
  std::ostringstream o;
  o << "0x" << std::hex << v;
  return o.str();
}

std::string site(const char* file, int line) {
  const char* slash = std::strrchr(file, '/');
  return std::string(slash ? slash + 1 : file) + ":" + std::to_string(line);
}

int sim_threads() {
  if (const char* env = std::getenv("EMRRG_SIM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return omp_get_max_threads();
}

}  // namespace

ThreadContext& current_thread() {
  if (!running) throw SimError("simulator: a CUDA built-in was used outside a kernel");
  return *running;
}

void set_current_thread(ThreadContext* context) { running = context; }

std::string dim_str(const dim3& d) {
  return "(" + std::to_string(d.x) + ", " + std::to_string(d.y) + ", " + std::to_string(d.z) + ")";
}
std::string dim_str(const uint3& d) {
  return "(" + std::to_string(d.x) + ", " + std::to_string(d.y) + ", " + std::to_string(d.z) + ")";
}

void set_max_dynamic_shared_memory(const void* kernel, int bytes) {
  std::lock_guard<std::mutex> lock(opt_in_mutex);
  opt_in_limits()[kernel] = bytes;
}

BlockRunner::BlockRunner() = default;

BlockRunner::~BlockRunner() {
  if (shared_) device_free(shared_);
}

std::string BlockRunner::where(const Thread& t) const {
  return "kernel '" + std::string(config_->kernel_name) + "' (launched at " + site(config_->file, config_->line) +
         ") block " + dim_str(t.context.block_idx) + " thread " + dim_str(t.context.thread_idx);
}

void BlockRunner::fail(const Thread& t, const std::string& what) const {
  set_current_thread(nullptr);
  throw SimError("SIMT simulator: " + where(t) + ": " + what);
}

BlockRunner::Thread& BlockRunner::self() { return threads_[current_thread().linear_thread]; }

SharedAccess* BlockRunner::dynamic_shared_records(size_t count) {
  if (shared_records_.size() < count) shared_records_.resize(count);
  return shared_records_.data();
}

void BlockRunner::syncthreads(const char* file, int line) {
  Thread& t = self();
  t.state = State::AtBarrier;
  t.barrier_file = file;
  t.barrier_line = line;
  t.fiber->yield();
}

uint64_t BlockRunner::warp_op(WarpOp op) {
  Thread& t = self();
  t.op = op;
  t.state = State::AtWarpOp;
  t.fiber->yield();
  return t.op.result;
}

bool BlockRunner::resolve_warps() {
  bool progressed = false;
  const int warps = (active_ + 31) / 32;
  for (int w = 0; w < warps; ++w) {
    const int base = w * 32;
    const int lanes_here = std::min(32, active_ - base);
    for (int lane = 0; lane < lanes_here; ++lane) {
      Thread& leader = threads_[base + lane];
      if (leader.state != State::AtWarpOp) continue;
      const WarpOp& op = leader.op;
      if (!(op.mask & (1u << lane)))
        fail(leader, op_name(op) + " at " + site(op.file, op.line) + " with mask " + hex(op.mask) +
                         " is called by lane " + std::to_string(lane) + ", which the mask leaves out");
      // Every lane of the mask must be waiting at the same operation with the same mask.
      for (int l = 0; l < 32; ++l) {
        if (!(op.mask & (1u << l))) continue;
        const std::string what = op_name(op) + " at " + site(op.file, op.line) + " with mask " +
                                 hex(op.mask) + " names lane " + std::to_string(l);
        if (l >= lanes_here)
          fail(leader, what + ", which does not exist (the block has " + std::to_string(active_) + " threads)");
        const Thread& other = threads_[base + l];
        if (other.state == State::Done) fail(leader, what + ", which has exited");
        if (other.state == State::AtBarrier)
          fail(leader, what + ", which waits at __syncthreads at " + site(other.barrier_file, other.barrier_line));
        if (other.op.kind != op.kind || other.op.mask != op.mask || other.op.collective != op.collective)
          fail(leader, what + ", which waits at " + op_name(other.op) + " at " + site(other.op.file, other.op.line) +
                           " with mask " + hex(other.op.mask));
      }
      if (op.kind == WarpOpKind::Collective) {
        void* lanes[32] = {};
        for (int l = 0; l < 32; ++l)
          if (op.mask & (1u << l)) lanes[l] = reinterpret_cast<void*>(threads_[base + l].op.value);
        op.collective(lanes, op.mask);
      }
      // All arrived: compute every lane's result before any of them runs on.
      uint64_t ballot = 0;
      for (int l = 0; l < 32; ++l)
        if ((op.mask & (1u << l)) && threads_[base + l].op.value != 0) ballot |= uint64_t{1} << l;
      for (int l = 0; l < 32; ++l) {
        if (!(op.mask & (1u << l))) continue;
        Thread& t = threads_[base + l];
        const int width = t.op.width;
        const int segment = (l / width) * width;
        int src = l;
        switch (op.kind) {
          case WarpOpKind::Shfl: src = segment + ((t.op.arg % width) + width) % width; break;
          case WarpOpKind::ShflUp: src = l - t.op.arg >= segment ? l - t.op.arg : l; break;
          case WarpOpKind::ShflDown: src = l + t.op.arg < segment + width ? l + t.op.arg : l; break;
          case WarpOpKind::ShflXor: src = ((l ^ t.op.arg) / width == l / width) ? (l ^ t.op.arg) : l; break;
          default: break;
        }
        switch (op.kind) {
          case WarpOpKind::Sync:
          case WarpOpKind::Collective: t.op.result = 0; break;
          case WarpOpKind::Ballot: t.op.result = ballot; break;
          case WarpOpKind::Any: t.op.result = (ballot & op.mask) != 0; break;
          case WarpOpKind::All: t.op.result = (ballot & op.mask) == op.mask; break;
          default:
            if (src < 0 || src >= 32 || !(op.mask & (1u << src)))
              fail(t, op_name(op) + " at " + site(op.file, op.line) + " reads lane " +
                          std::to_string(src) + ", which is not in the mask " + hex(op.mask) +
                          " (its value is undefined on a GPU)");
            t.op.result = threads_[base + src].op.value;
        }
      }
      for (int l = 0; l < 32; ++l)
        if (op.mask & (1u << l)) {
          threads_[base + l].state = State::Runnable;
          ++threads_[base + l].context.warp_ops;
        }
      progressed = true;
    }
  }
  return progressed;
}

bool BlockRunner::resolve_barrier() {
  const Thread* waiting = nullptr;
  const Thread* exited = nullptr;
  for (int i = 0; i < active_; ++i) {
    const Thread& t = threads_[i];
    if (t.state == State::AtWarpOp) return false;
    if (t.state == State::Done && !exited) exited = &t;
    if (t.state == State::AtBarrier && !waiting) waiting = &t;
  }
  if (!waiting) return false;
  if (exited)
    fail(*exited, "exited without reaching __syncthreads at " + site(waiting->barrier_file, waiting->barrier_line) +
                      ", where thread " + dim_str(waiting->context.thread_idx) + " waits (a barrier every thread of the "
                      "block must reach)");
  for (int i = 0; i < active_; ++i) {
    const Thread& t = threads_[i];
    if (t.barrier_line != waiting->barrier_line || std::strcmp(t.barrier_file, waiting->barrier_file) != 0)
      fail(t, "waits at __syncthreads at " + site(t.barrier_file, t.barrier_line) + " while thread " +
                  dim_str(waiting->context.thread_idx) + " waits at the one at " +
                  site(waiting->barrier_file, waiting->barrier_line));
  }
  for (int i = 0; i < active_; ++i) {
    threads_[i].state = State::Runnable;
    ++threads_[i].context.barriers;
  }
  return true;
}

void BlockRunner::run_block(const LaunchConfig& config, const uint3& block_idx, std::function<void()>& body) {
  config_ = &config;
  const dim3 b = config.block;
  active_ = static_cast<int>(b.x * b.y * b.z);
  if (static_cast<int>(threads_.size()) < active_) {
    const size_t old = threads_.size();
    threads_.resize(static_cast<size_t>(active_));
    for (size_t i = old; i < threads_.size(); ++i) threads_[i].fiber = std::make_unique<Fiber>(128 * 1024);
  }
  if (config.dynamic_shared_bytes != shared_capacity_) {
    if (shared_) device_free(shared_);
    shared_ = config.dynamic_shared_bytes ? device_malloc(config.dynamic_shared_bytes) : nullptr;
    shared_capacity_ = config.dynamic_shared_bytes;
  }
  // Shared memory starts with whatever the previous block left; NaN bytes make reads of
  // unwritten shared memory show up in float results.
  if (shared_) std::memset(shared_, 0xff, shared_capacity_);
  ++block_serial_;
  for (int i = 0; i < active_; ++i) {
    Thread& t = threads_[i];
    ThreadContext& c = t.context;
    c.thread_idx = {static_cast<unsigned>(i) % b.x, (static_cast<unsigned>(i) / b.x) % b.y,
                    static_cast<unsigned>(i) / (b.x * b.y)};
    c.block_idx = block_idx;
    c.block_dim = b;
    c.grid_dim = config.grid;
    c.linear_thread = i;
    c.lane = i % 32;
    c.warp = i / 32;
    c.runner = this;
    c.kernel_name = config.kernel_name;
    c.barriers = 0;
    c.warp_ops = 0;
    c.block_serial = block_serial_ + 1;
    t.state = State::Runnable;
    t.barrier_file = nullptr;
    t.fiber->reset(&body);
  }
  for (;;) {
    bool all_done = true;
    for (int i = 0; i < active_; ++i) {
      Thread& t = threads_[i];
      if (t.state != State::Runnable) {
        all_done = all_done && t.state == State::Done;
        continue;
      }
      set_current_thread(&t.context);
      t.fiber->resume();
      set_current_thread(nullptr);
      if (t.fiber->finished()) {
        t.state = State::Done;
        if (t.fiber->error()) {
          try {
            std::rethrow_exception(t.fiber->error());
          } catch (const SimError&) {
            throw;
          } catch (const std::exception& e) {
            fail(t, std::string("exception: ") + e.what());
          }
        }
      } else {
        all_done = false;
      }
    }
    if (all_done) break;
    if (resolve_warps()) continue;
    if (resolve_barrier()) continue;
    for (int i = 0; i < active_; ++i)
      if (threads_[i].state == State::AtWarpOp)
        fail(threads_[i], std::string("deadlock: waits at ") + op_name(threads_[i].op) + " at " +
                              site(threads_[i].op.file, threads_[i].op.line) + " for lanes that never arrive");
    break;
  }
}

void run_kernel(const LaunchConfig& config, std::function<void()> body) {
  const dim3 g = config.grid, b = config.block;
  auto reject = [&](const std::string& what) {
    throw SimError("SIMT simulator: launch of kernel '" + std::string(config.kernel_name) + "' at " +
                   site(config.file, config.line) + " with grid " + dim_str(g) + " block " + dim_str(b) + ": " + what);
  };
  const uint64_t threads = uint64_t{b.x} * b.y * b.z;
  if (threads == 0 || uint64_t{g.x} * g.y * g.z == 0) reject("a dimension is zero");
  if (threads > kMaxThreadsPerBlock)
    reject(std::to_string(threads) + " threads per block exceeds the limit of " + std::to_string(kMaxThreadsPerBlock));
  if (b.z > 64) reject("blockDim.z exceeds 64");
  if (g.y > 65535 || g.z > 65535) reject("gridDim.y and gridDim.z are limited to 65535");
  if (g.x > 2147483647u) reject("gridDim.x exceeds 2^31 - 1");
  if (config.dynamic_shared_bytes > kDefaultSharedLimit) {
    int opted = 0;
    {
      std::lock_guard<std::mutex> lock(opt_in_mutex);
      auto it = opt_in_limits().find(config.kernel);
      if (it != opt_in_limits().end()) opted = it->second;
    }
    if (config.dynamic_shared_bytes > static_cast<size_t>(opted))
      reject(std::to_string(config.dynamic_shared_bytes) + " bytes of dynamic shared memory exceed the " +
             std::to_string(kDefaultSharedLimit) +
             "-byte default; opt in with cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, n)" +
             (opted ? " (opted in to " + std::to_string(opted) + ")" : ""));
    if (config.dynamic_shared_bytes > kOptInSharedLimit)
      reject(std::to_string(config.dynamic_shared_bytes) + " bytes of dynamic shared memory exceed the device maximum of " +
             std::to_string(kOptInSharedLimit));
  }
  install_fault_handler();
  const int64_t blocks = static_cast<int64_t>(g.x) * g.y * g.z;
  // Blocks run in parallel, so which failing block fails first in time varies from run to run.
  // Report the failure of the lowest block index instead: blocks above a known failure are
  // skipped, blocks below it still run, so the error is the same on every run.
  std::exception_ptr first_error;
  int64_t first_error_block = blocks;
  std::mutex error_mutex;
  const int workers = static_cast<int>(std::min<int64_t>(sim_threads(), blocks));
#pragma omp parallel for schedule(dynamic) num_threads(workers)
  for (int64_t i = 0; i < blocks; ++i) {
    {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (i > first_error_block) continue;
    }
    thread_local BlockRunner runner;
    const uint3 idx{static_cast<unsigned>(i % g.x), static_cast<unsigned>((i / g.x) % g.y),
                    static_cast<unsigned>(i / (int64_t{g.x} * g.y))};
    try {
      std::function<void()> local_body = body;
      runner.run_block(config, idx, local_body);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (i < first_error_block) {
        first_error_block = i;
        first_error = std::current_exception();
      }
    }
  }
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace emrrg::sim
