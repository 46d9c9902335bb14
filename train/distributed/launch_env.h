// Where this process sits in a launched job, read from the launcher's environment: OpenMPI's
// mpirun (OMPI_COMM_WORLD_*), Slurm's srun (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID,
// SLURM_NTASKS_PER_NODE / SLURM_TASKS_PER_NODE), and PMI-based launchers (PMI_RANK, PMI_SIZE,
// MPI_LOCALRANKID). A process started without a launcher is rank 0 of 1.
#pragma once
#include <string>

namespace emrrg::train::distributed {

struct LaunchEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;  // among the ranks of this node: the GPU it takes
  int local_size = 1;  // ranks on this node: they split its CPU cores
  std::string launcher = "none";  // "openmpi", "slurm", "pmi", "none"
  bool distributed() const { return world_size > 1; }
};

// Reads the environment; throws std::runtime_error naming the variable for an unreadable value
// or an inconsistent one (rank outside [0, world_size)).
LaunchEnv read_launch_env();

// The CPU threads each rank should use: the node's cores split evenly over its ranks (>= 1).
int threads_per_rank(const LaunchEnv& env, int cores);

}  // namespace emrrg::train::distributed
