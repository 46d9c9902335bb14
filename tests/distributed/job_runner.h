// Runs a command (an mpirun job) under `timeout 60`, so a job that hangs fails its test instead
// of hanging CI; returns its exit code (124: timeout ended it), output and duration.
#pragma once
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace emrrg::testing {

struct JobResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
  double seconds = 0;
};

// `mpirun -np 2 --oversubscribe` (mpirun refuses root without the two variables: CI containers
// run as root).
inline std::string mpirun2() { return "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " EMRRG_MPIEXEC " -np 2 --oversubscribe "; }

inline JobResult run_job(const std::string& command) {
  JobResult r;
  const auto start = std::chrono::steady_clock::now();
  FILE* pipe = popen(("timeout 60 " + command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  char buffer[4096];
  while (const size_t n = fread(buffer, 1, sizeof(buffer), pipe)) r.output.append(buffer, n);
  const int status = pclose(pipe);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace emrrg::testing
