#include "train/distributed/config_agreement.h"

#include <stdexcept>
#include <vector>

namespace emrrg::train::distributed {

uint64_t config_hash(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (const unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

void check_same_config(Communicator& comm, const std::string& resolved_config) {
  const auto mine = static_cast<int64_t>(config_hash(resolved_config));
  Tensor all = zeros({comm.world_size()}, DType::Int64, comm.device());
  comm.all_gather(to_device(from_vector(std::vector<int64_t>{mine}, {1}), comm.device()), all);
  const std::vector<int64_t> hashes = all.to_vector<int64_t>();
  std::string differ;
  for (size_t r = 1; r < hashes.size(); ++r)
    if (hashes[r] != hashes[0]) differ += (differ.empty() ? "" : ", ") + std::to_string(r);
  if (!differ.empty())
    throw std::runtime_error("distributed: the resolved config of rank(s) " + differ +
                             " differs from rank 0's (give every rank the same --config and --set overrides)");
}

}  // namespace emrrg::train::distributed
