// GoogleTest under mpirun: one MPI communicator for the whole program (MPI starts once per
// process); only rank 0 prints the results, and the program fails when any rank failed.
#include <gtest/gtest.h>

#include "tests/distributed/mpi_test_env.h"

namespace emrrg::testing {
train::distributed::MpiCommunicator* g_comm = nullptr;
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  emrrg::train::distributed::MpiCommunicator comm(60);
  emrrg::testing::g_comm = &comm;
  auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
  if (comm.rank() != 0) delete listeners.Release(listeners.default_result_printer());
  emrrg::Tensor failed = emrrg::from_vector(std::vector<double>{RUN_ALL_TESTS() != 0 ? 1.0 : 0.0}, {1});
  comm.all_reduce(failed, emrrg::train::distributed::ReduceOp::Sum);
  return failed.item() > 0 ? 1 : 0;
}
