// Faults in a data-parallel job end it with a clear error within the timeout, never a hang:
// a rank killed mid-run (OpenMPI's mpirun sees it die and ends the others), and a rank that
// hangs (the others' collective times out and MPI_Abort ends the job). The job runs under
// `timeout 60`, so a regression fails the test instead of hanging CI.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/train/trainer_test_util.h"

namespace {

struct JobResult {
  int exit_code = -1;
  std::string output;
  double seconds = 0;
};

JobResult run_job(const std::string& mode, double timeout_s) {
  // mpirun refuses root without these (CI containers run as root).
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  const emrrg::testing::ScratchDir out("fault_" + mode);
  const std::string command = "timeout 60 " EMRRG_MPIEXEC " -np 2 --oversubscribe " EMRRG_FAULT_RUN " " + mode + " " +
                              std::to_string(timeout_s) + " " + out.path + " 2>&1";
  JobResult r;
  const auto start = std::chrono::steady_clock::now();
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return r;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) r.output.append(buffer, n);
  const int status = pclose(pipe);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

TEST(DistributedFaults, AHealthyJobFinishes) {
  const JobResult r = run_job("none", 10);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("fault_run: 200 steps done"), std::string::npos) << r.output;
}

TEST(DistributedFaults, AKilledRankEndsTheJobWithAnError) {
  const JobResult r = run_job("kill", 3);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, 124) << "the job hung until timeout(1) ended it:\n" << r.output;
  EXPECT_NE(r.output.find("rank 1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("signal 9"), std::string::npos) << r.output;
  EXPECT_LT(r.seconds, 30) << r.output;
}

TEST(DistributedFaults, AHangingRankEndsTheJobAfterTheTimeout) {
  const double timeout = 2;
  const JobResult r = run_job("hang", timeout);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, 124) << "the job hung until timeout(1) ended it:\n" << r.output;
  EXPECT_NE(r.output.find("rank 0 of 2: all_reduce did not complete within 2 s (--dist-timeout): another rank died or hangs"),
            std::string::npos)
      << r.output;
  EXPECT_GE(r.seconds, timeout);
  EXPECT_LT(r.seconds, 30) << r.output;
}

}  // namespace
