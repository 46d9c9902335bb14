#include "train/distributed/file_rendezvous.h"

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "train/atomic_file.h"

namespace emrrg::train::distributed {

namespace fs = std::filesystem;

std::string parse_dist_init(const std::string& spec) {
  const std::string prefix = "file:";
  if (spec.rfind(prefix, 0) != 0 || spec.size() == prefix.size())
    throw std::invalid_argument("--dist-init '" + spec + "': expected file:PATH (a path on a filesystem every node shares)");
  return spec.substr(prefix.size());
}

std::string exchange_through_file(const std::string& path, int rank, const std::string& id, size_t id_bytes, double timeout_seconds) {
  if (rank == 0) {
    if (fs::exists(path))
      throw std::runtime_error("--dist-init file:" + path + ": the file exists already (left by an earlier job?); remove it and start again");
    write_file_atomic(path, id);
    return id;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  while (!fs::exists(path)) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("--dist-init file:" + path + ": rank 0 did not write it within " + std::to_string(timeout_seconds) +
                               " s (is the path on a filesystem every node shares?)");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string bytes = read_file(path);
  if (bytes.size() != id_bytes)
    throw std::runtime_error("--dist-init file:" + path + ": holds " + std::to_string(bytes.size()) + " bytes, a unique id has " + std::to_string(id_bytes));
  return bytes;
}

}  // namespace emrrg::train::distributed
