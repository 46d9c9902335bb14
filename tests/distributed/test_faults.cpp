// Faults in a data-parallel job end it with a clear error within the timeout, never a hang:
// a rank killed mid-run (OpenMPI's mpirun sees it die and ends the others), and a rank that
// hangs (the others' collective times out and MPI_Abort ends the job). The job runs under
// `timeout 60`, so a regression fails the test instead of hanging CI.
#include <gtest/gtest.h>

#include <string>

#include "tests/distributed/job_runner.h"
#include "tests/train/trainer_test_util.h"

namespace emrrg::testing {
namespace {

JobResult run_fault_job(const std::string& mode, double timeout_s) {
  const ScratchDir out("fault_" + mode);
  return run_job(mpirun2() + EMRRG_FAULT_RUN " " + mode + " " + std::to_string(timeout_s) + " " + out.path);
}

TEST(DistributedFaults, AHealthyJobFinishes) {
  const JobResult r = run_fault_job("none", 10);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("fault_run: 200 steps done"), std::string::npos) << r.output;
}

TEST(DistributedFaults, AKilledRankEndsTheJobWithAnError) {
  const JobResult r = run_fault_job("kill", 3);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, 124) << "the job hung until timeout(1) ended it:\n" << r.output;
  EXPECT_NE(r.output.find("rank 1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("signal 9"), std::string::npos) << r.output;
  EXPECT_LT(r.seconds, 30) << r.output;
}

TEST(DistributedFaults, AHangingRankEndsTheJobAfterTheTimeout) {
  const double timeout = 2;
  const JobResult r = run_fault_job("hang", timeout);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, 124) << "the job hung until timeout(1) ended it:\n" << r.output;
  EXPECT_NE(r.output.find("rank 0 of 2: all_reduce did not complete within 2 s (--dist-timeout): another rank died or hangs"),
            std::string::npos)
      << r.output;
  EXPECT_GE(r.seconds, timeout);
  EXPECT_LT(r.seconds, 30) << r.output;
}

}  // namespace
}  // namespace emrrg::testing
