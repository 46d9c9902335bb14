// Runs the blocks of one kernel launch. Each block's threads are fibers on one OS thread; the
// runner resumes every runnable fiber until it blocks, then resolves what they wait for:
// warp rendezvous (__shfl_sync and friends) once every lane of the mask has arrived, and the
// block barrier (__syncthreads) once every live thread is waiting at the same one. Anything
// else — a barrier some threads never reach, threads waiting at different barriers, a mask
// that names a lane that exited, does not exist or is elsewhere — is a SimError naming the
// kernel, block, thread and source line.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cuda/sim/fiber.h"
#include "cuda/sim/shared_memory.h"
#include "cuda/sim/thread_context.h"

namespace emrrg::sim {

struct LaunchConfig {
  const char* kernel_name;
  const void* kernel;  // identity, for the dynamic shared memory opt-in
  dim3 grid;
  dim3 block;
  size_t dynamic_shared_bytes;
  const char* file;
  int line;
};

enum class WarpOpKind { Sync, Shfl, ShflUp, ShflDown, ShflXor, Ballot, Any, All, Collective };

// A warp-collective instruction (mma.sync, ldmatrix: cuda/sim/warp_matrix.h): once every lane
// of the mask has arrived, `compute` gets each lane's operand block (lanes[l] is lane l's
// WarpOp::value cast back to a pointer, null for lanes outside the mask) and writes every
// lane's results into those blocks before any lane runs on.
using WarpCollective = void (*)(void* const lanes[32], unsigned mask);

struct WarpOp {
  WarpOpKind kind;
  unsigned mask;
  uint64_t value;  // the bits of the shuffled value, the predicate, or a collective's operand block
  int arg;         // source lane, delta or lane mask
  int width;
  const char* file;
  int line;
  uint64_t result = 0;
  WarpCollective collective = nullptr;
  const char* collective_name = nullptr;  // the instruction, for error messages
};

class BlockRunner {
 public:
  BlockRunner();
  ~BlockRunner();
  // Runs block `block_idx` of the launch to completion; throws SimError.
  void run_block(const LaunchConfig& config, const uint3& block_idx, std::function<void()>& body);

  // Called from kernel code running on a fiber.
  void syncthreads(const char* file, int line);
  uint64_t warp_op(WarpOp op);
  void* dynamic_shared() const { return shared_; }
  size_t dynamic_shared_bytes() const { return shared_capacity_; }
  // Race-check records for the dynamic shared memory, one per element of `count`.
  SharedAccess* dynamic_shared_records(size_t count);

 private:
  enum class State { Runnable, AtBarrier, AtWarpOp, Done };
  struct Thread {
    std::unique_ptr<Fiber> fiber;
    ThreadContext context;
    State state = State::Done;
    const char* barrier_file = nullptr;
    int barrier_line = 0;
    WarpOp op{};
  };
  bool resolve_warps();
  bool resolve_barrier();
  [[noreturn]] void fail(const Thread& t, const std::string& what) const;
  std::string where(const Thread& t) const;
  Thread& self();

  const LaunchConfig* config_ = nullptr;
  std::vector<Thread> threads_;
  int active_ = 0;  // threads in this block
  void* shared_ = nullptr;
  size_t shared_capacity_ = 0;
  std::vector<SharedAccess> shared_records_;
  uint64_t block_serial_ = 0;
};

// Validates the configuration and runs every block (in parallel over OS threads unless
// EMRRG_SIM_THREADS=1, which makes a launch easy to step through in gdb).
void run_kernel(const LaunchConfig& config, std::function<void()> body);

// cudaFuncSetAttribute(MaxDynamicSharedMemorySize) lands here.
void set_max_dynamic_shared_memory(const void* kernel, int bytes);

// Device limits the simulator enforces (those of an sm_80/sm_90 GPU).
constexpr int kMaxThreadsPerBlock = 1024;
constexpr size_t kDefaultSharedLimit = 48 * 1024;
constexpr size_t kOptInSharedLimit = 227 * 1024;

}  // namespace emrrg::sim
