// The dynamic shared memory of the block the calling thread belongs to.
#include "cuda/sim/sim.h"

namespace emrrg::sim {

void* dynamic_shared_memory() { return current_thread().runner->dynamic_shared(); }

}  // namespace emrrg::sim
