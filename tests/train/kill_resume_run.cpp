// The training run the kill -9 test (test_kill_resume.cpp) starts and kills: a small MLP on the
// spiral for a fixed number of steps with a checkpoint after every step, resuming from whatever
// the run folder holds. Usage: trainer_kill_run OUT_DIR STEPS
//
// With EMRRG_KILL_AT_FSYNC=N in the environment the process SIGKILLs itself on entering its N-th
// fsync: a kill at an exact point of the checkpoint protocol (after one file is written, before
// the state, before or after the rename, while pruning), which an outside kill hits only by luck.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "runtime/threading.h"
#include "tests/train/trainer_test_util.h"
#include "train/trainer.h"

// Replaces libc's fsync for this program (the trainer's calls resolve to it).
extern "C" int fsync(int fd) {
  static long left = [] {
    const char* n = std::getenv("EMRRG_KILL_AT_FSYNC");
    return n ? std::atol(n) : 0L;
  }();
  if (left > 0 && --left == 0) raise(SIGKILL);
  return static_cast<int>(syscall(SYS_fsync, fd));
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: trainer_kill_run OUT_DIR STEPS\n";
    return 2;
  }
  emrrg::set_num_threads(1);
  emrrg::testing::SpiralMlp model(21, 0.1, 1 << 15);  // 128 KiB of weights, 384 KiB per checkpoint
  emrrg::testing::SpiralSource data(60, 8, 4);
  emrrg::train::TrainerOptions o;
  o.epochs = 0;
  o.max_steps = std::atoll(argv[2]);
  o.lr = 1e-2;
  o.lr_min = 1e-4;
  o.warmup_steps = 3;
  o.checkpoint_every = 1;
  o.keep_checkpoints = 2;
  o.out_dir = argv[1];
  emrrg::train::Trainer trainer(model, data, o, {}, &std::cout);
  trainer.resume(argv[1]);
  trainer.fit();
  return 0;
}
