// The data-parallel run the fault tests start under mpirun: the spiral MLP trained for many
// steps; at step 3 rank 1 dies (SIGKILL) or hangs (sleeps forever, holding its next collective
// back), or nothing happens. Usage: distributed_fault_run kill|hang|none TIMEOUT_S OUT_DIR
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "runtime/threading.h"
#include "tests/distributed/sharded_spiral.h"
#include "train/distributed/mpi_communicator.h"
#include "train/trainer.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: distributed_fault_run kill|hang|none TIMEOUT_S OUT_DIR\n";
    return 2;
  }
  const std::string mode = argv[1];
  emrrg::set_num_threads(1);
  emrrg::train::distributed::MpiCommunicator comm(std::atof(argv[2]));
  emrrg::testing::SpiralMlp model(3, 0.0);
  emrrg::testing::ShardedSpiral data(64, 4, 1, comm.rank(), comm.world_size());
  emrrg::train::TrainerOptions o;
  o.epochs = 0;
  o.max_steps = 200;
  o.out_dir = argv[3];  // rank 0 writes it
  o.tensorboard = false;
  o.communicator = &comm;
  emrrg::train::Trainer trainer(model, data, o);
  while (trainer.step()) {
    if (comm.rank() == 1 && trainer.state().step == 3) {
      if (mode == "kill") raise(SIGKILL);
      if (mode == "hang")
        for (;;) pause();
    }
  }
  if (comm.rank() == 0) std::cout << "fault_run: " << trainer.state().step << " steps done\n";
  return 0;
}
