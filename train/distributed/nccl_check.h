// Checks an NCCL call; a failure throws std::runtime_error with the call, file, line and NCCL's
// error string. ncclInProgress (a non-blocking communicator's queued call) is not a failure.
#pragma once
#include <nccl.h>

#include <stdexcept>
#include <string>

namespace emrrg::train::distributed {

inline void nccl_check(ncclResult_t result, const char* call, const char* file, int line) {
  if (result == ncclSuccess || result == ncclInProgress) return;
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + call + " failed: " + ncclGetErrorString(result));
}

}  // namespace emrrg::train::distributed

#define EMRRG_NCCL_CHECK(call) ::emrrg::train::distributed::nccl_check((call), #call, __FILE__, __LINE__)
