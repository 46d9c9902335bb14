// Ranks of one job must train the same thing: each hashes its resolved config (the TOML
// document after --set overrides, plus anything else that must agree), the hashes are
// all-gathered, and a mismatch stops every rank with an error naming the ranks that differ.
#pragma once
#include <cstdint>
#include <string>

#include "train/distributed/communicator.h"

namespace emrrg::train::distributed {

uint64_t config_hash(const std::string& resolved_config);  // FNV-1a, 64 bits
// Throws std::runtime_error on every rank when some rank's hash differs from rank 0's.
void check_same_config(Communicator& comm, const std::string& resolved_config);

}  // namespace emrrg::train::distributed
