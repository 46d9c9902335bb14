#include "cuda/sim/shared_memory.h"

#include <sstream>

#include "cuda/sim/block_runner.h"
#include "cuda/sim/thread_context.h"

namespace emrrg::sim {

namespace {

// Whether an earlier access by `other` at the given clocks is ordered before now by a
// barrier, or by a warp operation both took part in.
bool ordered(const ThreadContext& now, int32_t other, uint32_t other_barriers, uint32_t other_warp_ops) {
  if (other == now.linear_thread) return true;
  if (other_barriers != now.barriers) return true;
  return other / 32 == now.linear_thread / 32 && now.warp_ops > other_warp_ops;
}

std::string thread_of(const ThreadContext& c, int32_t linear) {
  const unsigned bx = c.block_dim.x, by = c.block_dim.y;
  const unsigned l = static_cast<unsigned>(linear);
  return "(" + std::to_string(l % bx) + ", " + std::to_string((l / bx) % by) + ", " + std::to_string(l / (bx * by)) + ")";
}

[[noreturn]] void race(const ThreadContext& c, const void* address, const std::string& what) {
  std::ostringstream o;
  o << "SIMT simulator: kernel '" << c.kernel_name << "' block " << dim_str(c.block_idx) << " thread "
    << dim_str(c.thread_idx) << ": shared memory at " << address << ": " << what;
  throw SimError(o.str());
}

void refresh(SharedAccess& r, const ThreadContext& c) {
  if (r.block_serial != c.block_serial) r = SharedAccess{c.block_serial};
}

}  // namespace

void check_shared_read(SharedAccess& r, const void* address) {
  const ThreadContext& c = current_thread();
  refresh(r, c);
  if (r.writer < 0) race(c, address, "read before any thread of this block wrote it (shared memory starts undefined)");
  if (!ordered(c, r.writer, r.write_barrier, r.write_warp))
    race(c, address, "read of a value thread " + thread_of(c, r.writer) +
                         " wrote with no __syncthreads in between (a data race)");
  // Readers from before the last barrier are ordered with everything that follows.
  if (r.reader != -1 && r.read_barrier != c.barriers) r.reader = -1;
  r.reader = (r.reader == -1 || r.reader == c.linear_thread) ? c.linear_thread : kManyReaders;
  r.read_barrier = c.barriers;
  r.read_warp = c.warp_ops;
}

void check_shared_write(SharedAccess& r, const void* address) {
  const ThreadContext& c = current_thread();
  refresh(r, c);
  if (r.writer >= 0 && !ordered(c, r.writer, r.write_barrier, r.write_warp))
    race(c, address, "written while thread " + thread_of(c, r.writer) +
                         " also wrote it with no __syncthreads in between (a data race)");
  if (r.reader == kManyReaders && r.read_barrier == c.barriers)
    race(c, address, "written while other threads read it with no __syncthreads in between (a data race)");
  if (r.reader >= 0 && !ordered(c, r.reader, r.read_barrier, r.read_warp))
    race(c, address, "written after thread " + thread_of(c, r.reader) +
                         " read it with no __syncthreads in between (a data race)");
  r.writer = c.linear_thread;
  r.write_barrier = c.barriers;
  r.write_warp = c.warp_ops;
  r.reader = -1;
}

void shared_index_error(const void* base, long long index, size_t count) {
  const ThreadContext& c = current_thread();
  std::ostringstream o;
  o << "index " << index << " is outside a shared array of " << count << " elements";
  race(c, base, o.str());
}

SharedAccess* dynamic_shared_records(size_t count) { return current_thread().runner->dynamic_shared_records(count); }

}  // namespace emrrg::sim
