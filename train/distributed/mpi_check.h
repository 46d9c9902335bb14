// Checks an MPI call's return code; a failure throws std::runtime_error with the file, line,
// the call and MPI's error string.
#pragma once
#include <mpi.h>

#include <stdexcept>
#include <string>

namespace emrrg::train::distributed {

inline void mpi_check(int code, const char* call, const char* file, int line) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + call + " failed: " + std::string(text, static_cast<size_t>(length)));
}

}  // namespace emrrg::train::distributed

#define EMRRG_MPI_CHECK(call) ::emrrg::train::distributed::mpi_check((call), #call, __FILE__, __LINE__)
