// `--dist-init file:PATH`: how ranks that have no MPI (srun without PMI support, say) agree on
// NCCL's unique id. Rank 0 writes the id to PATH on a filesystem every node shares (written to
// a temporary name, fsynced and renamed, so a reader never sees half an id); the other ranks
// poll until it appears. The file must not exist before the job starts (a stale id from an
// earlier job would join the ranks to a dead group): rank 0 refuses one it finds.
#pragma once
#include <string>

namespace emrrg::train::distributed {

// "file:PATH" -> PATH; throws std::invalid_argument for any other form, naming it.
std::string parse_dist_init(const std::string& spec);

// Rank 0 publishes `id` (its bytes) and returns it; another rank waits up to timeout_seconds
// for the file and returns its bytes (which must be `id_bytes` long).
std::string exchange_through_file(const std::string& path, int rank, const std::string& id, size_t id_bytes, double timeout_seconds);

}  // namespace emrrg::train::distributed
