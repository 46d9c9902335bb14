// What the simulated thread that is running now knows about itself: the CUDA built-in
// variables, its lane and warp, and the kernel it belongs to (for error messages).
#pragma once
#include <vector_types.h>

#include <stdexcept>
#include <string>

namespace emrrg::sim {

class BlockRunner;

struct ThreadContext {
  uint3 thread_idx{};
  uint3 block_idx{};
  dim3 block_dim;
  dim3 grid_dim;
  int linear_thread = 0;  // x + y*bx + z*bx*by: warps are cut from this order, as on a GPU
  int lane = 0;
  int warp = 0;
  BlockRunner* runner = nullptr;
  const char* kernel_name = "";
  // Logical clocks for the shared-memory race check: block barriers passed, warp operations
  // joined, and which block (on this OS thread) this is.
  uint32_t barriers = 0;
  uint32_t warp_ops = 0;
  uint64_t block_serial = 0;
};

// The context of the simulated thread running on this OS thread; throws outside a kernel.
ThreadContext& current_thread();
void set_current_thread(ThreadContext* context);

// Anything a GPU would reject or leave undefined, caught by the simulator.
class SimError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string dim_str(const dim3& d);
std::string dim_str(const uint3& d);

}  // namespace emrrg::sim
