// The communicator of a test program run under mpirun (mpi_test_main.cpp).
#pragma once
#include "train/distributed/mpi_communicator.h"

namespace emrrg::testing {
extern train::distributed::MpiCommunicator* g_comm;
}  // namespace emrrg::testing
