#include "train/distributed/launch_env.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

namespace emrrg::train::distributed {

namespace {

bool read_int(const char* name, int& out) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return false;
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  // Slurm writes SLURM_TASKS_PER_NODE as "2(x3),1": the leading count is this node's.
  if (end == text || v < 0 || v > 1 << 24)
    throw std::runtime_error(std::string("launch environment: ") + name + "='" + text + "' is not a count");
  out = static_cast<int>(v);
  return true;
}

}  // namespace

LaunchEnv read_launch_env() {
  LaunchEnv e;
  if (read_int("OMPI_COMM_WORLD_SIZE", e.world_size)) {
    e.launcher = "openmpi";
    read_int("OMPI_COMM_WORLD_RANK", e.rank);
    read_int("OMPI_COMM_WORLD_LOCAL_RANK", e.local_rank);
    read_int("OMPI_COMM_WORLD_LOCAL_SIZE", e.local_size);
  } else if (std::getenv("SLURM_PROCID") != nullptr && read_int("SLURM_NTASKS", e.world_size)) {
    // SLURM_PROCID is set by srun only: a shell inside salloc has SLURM_NTASKS without it.
    e.launcher = "slurm";
    read_int("SLURM_PROCID", e.rank);
    read_int("SLURM_LOCALID", e.local_rank);
    if (!read_int("SLURM_NTASKS_PER_NODE", e.local_size)) read_int("SLURM_TASKS_PER_NODE", e.local_size);
  } else if (read_int("PMI_SIZE", e.world_size)) {
    e.launcher = "pmi";
    read_int("PMI_RANK", e.rank);
    if (!read_int("MPI_LOCALRANKID", e.local_rank)) e.local_rank = e.rank;
    if (!read_int("MPI_LOCALNRANKS", e.local_size)) e.local_size = e.world_size;
  }
  if (e.world_size < 1 || e.rank >= e.world_size)
    throw std::runtime_error("launch environment (" + e.launcher + "): rank " + std::to_string(e.rank) + " is outside world size " +
                             std::to_string(e.world_size));
  if (e.local_size < 1 || e.local_rank >= e.local_size) e.local_size = e.local_rank + 1;
  return e;
}

int threads_per_rank(const LaunchEnv& env, int cores) { return std::max(1, cores / std::max(1, env.local_size)); }

}  // namespace emrrg::train::distributed
