// Data-parallel training over the MPI ranks against one process: with every rank's batch of a
// step fed to one process as grad_accum micro-batches, the losses and the weights are the same
// (the mean of per-rank mean gradients is the accumulated gradient: the 1/world scale is a
// power of two for 2 ranks, so it is exact); the ranks' weights are bit-identical after every
// step; ZeRO-1 gives plain data parallelism's results, also across a checkpoint and resume; a
// checkpoint of one world size is refused by another.
#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>

#include "tests/distributed/mpi_test_env.h"
#include "tests/distributed/sharded_spiral.h"
#include "train/trainer.h"

namespace emrrg::testing {
namespace {

constexpr int64_t kPoints = 96, kSteps = 7;
constexpr size_t kBatch = 8;

train::TrainerOptions options(const std::string& out) {
  train::TrainerOptions o;
  o.epochs = 0;
  o.max_steps = kSteps;  // 96 / 2 ranks / 8 = 6 steps per epoch: the run crosses an epoch
  o.lr = 2e-2;
  o.lr_min = 1e-3;
  o.warmup_steps = 2;
  o.clip = 0.5;
  o.out_dir = out;
  o.tensorboard = false;
  return o;
}

// A run folder every rank names the same: rank 0's scratch directory.
std::string shared_dir(const std::string& name) {
  Tensor pid = from_vector(std::vector<int64_t>{::getpid()}, {1});
  g_comm->broadcast(pid, 0);
  return (std::filesystem::temp_directory_path() / ("emrrg_dp_" + std::to_string(pid.to_vector<int64_t>()[0]) + "_" + name)).string();
}

// True when every rank holds the same bytes as rank 0.
bool same_on_every_rank(const std::vector<std::vector<char>>& bytes) {
  bool same = true;
  for (const std::vector<char>& b : bytes) {
    Tensor mine = from_vector(std::vector<uint8_t>(b.begin(), b.end()), {static_cast<int64_t>(b.size())});
    Tensor root = to_contiguous(mine);
    g_comm->broadcast(root, 0);
    same = same && std::equal(b.begin(), b.end(), static_cast<const char*>(root.raw_data()));
  }
  Tensor differ = from_vector(std::vector<double>{same ? 0.0 : 1.0}, {1});
  g_comm->all_reduce(differ, train::distributed::ReduceOp::Sum);
  return differ.item() == 0;
}

struct RunResult {
  std::vector<double> losses;
  std::vector<std::vector<char>> weights;
};

// Data parallel over g_comm: checks the ranks agree after every step.
RunResult data_parallel_run(int zero, const std::string& out, int64_t resume_at = 0) {
  SpiralMlp model(11, 0.0);
  ShardedSpiral data(kPoints, kBatch, 5, g_comm->rank(), g_comm->world_size());
  train::TrainerOptions o = options(out);
  o.communicator = g_comm;
  o.zero_stage = zero;
  o.checkpoint_every = resume_at;
  RunResult run;
  {
    train::Trainer trainer(model, data, o);
    while (trainer.step()) {
      EXPECT_TRUE(same_on_every_rank(parameter_bytes(model))) << "weights differ across ranks after step " << trainer.state().step;
      if (resume_at > 0 && trainer.state().step == resume_at) break;
    }
    for (const auto& r : trainer.history()) run.losses.push_back(r.loss);
  }
  if (resume_at > 0) {
    SpiralMlp fresh(99, 0.0);  // other initial weights: the checkpoint must replace them all
    ShardedSpiral again(kPoints, kBatch, 5, g_comm->rank(), g_comm->world_size());
    train::Trainer resumed(fresh, again, o);
    EXPECT_TRUE(resumed.resume(out));
    resumed.fit();
    for (const auto& r : resumed.history()) run.losses.push_back(r.loss);
    run.weights = parameter_bytes(fresh);
    return run;
  }
  run.weights = parameter_bytes(model);
  return run;
}

// One process, every rank's batches as micro-batches of one step.
RunResult reference_run(const std::string& out) {
  SpiralMlp model(11, 0.0);
  ShardedSpiral data(kPoints, kBatch, 5, 0, g_comm->world_size(), true);
  train::TrainerOptions o = options(out);
  o.grad_accum = g_comm->world_size();
  train::Trainer trainer(model, data, o);
  trainer.fit();
  RunResult run;
  for (const auto& r : trainer.history()) run.losses.push_back(r.loss);
  run.weights = parameter_bytes(model);
  return run;
}

TEST(DataParallel, MatchesOneProcessAccumulatingEveryRanksBatch) {
  ASSERT_GE(g_comm->world_size(), 2) << "run under mpirun -np 2";
  ScratchDir mine("reference");
  const std::string out = shared_dir("dp");
  const RunResult reference = reference_run(mine.path);
  const RunResult dp = data_parallel_run(0, out);
  ASSERT_EQ(dp.losses.size(), static_cast<size_t>(kSteps));
  ASSERT_EQ(reference.losses.size(), dp.losses.size());
  for (size_t s = 0; s < dp.losses.size(); ++s) EXPECT_NEAR(dp.losses[s], reference.losses[s], 1e-6) << "step " << s + 1;
  EXPECT_LT(dp.losses.back(), dp.losses.front());  // it trains
  ASSERT_EQ(dp.weights.size(), reference.weights.size());
  for (size_t k = 0; k < dp.weights.size(); ++k) EXPECT_EQ(dp.weights[k], reference.weights[k]) << "parameter " << k;
  if (g_comm->rank() == 0) std::filesystem::remove_all(out);
}

TEST(DataParallel, ZeroOneGivesPlainDataParallelResultsAcrossAResume) {
  const std::string plain_dir = shared_dir("plain"), zero_dir = shared_dir("zero");
  const RunResult plain = data_parallel_run(0, plain_dir);
  const RunResult zero = data_parallel_run(1, zero_dir);
  EXPECT_EQ(zero.losses, plain.losses);
  EXPECT_EQ(zero.weights, plain.weights);
  // Checkpoint at step 3 (rank 0 writes the gathered moments), resume into a fresh model.
  const std::string resumed_dir = shared_dir("zero_resume");
  const RunResult resumed = data_parallel_run(1, resumed_dir, 3);
  EXPECT_EQ(resumed.losses, plain.losses);
  EXPECT_EQ(resumed.weights, plain.weights);
  g_comm->barrier();
  if (g_comm->rank() == 0)
    for (const std::string& d : {plain_dir, zero_dir, resumed_dir}) std::filesystem::remove_all(d);
}

TEST(DataParallel, ACheckpointOfAnotherWorldSizeIsRefused) {
  const std::string out = shared_dir("world");
  data_parallel_run(0, out, 3);
  g_comm->barrier();
  if (g_comm->rank() == 0) {
    SpiralMlp model(11, 0.0);
    ShardedSpiral data(kPoints, kBatch, 5, 0, 1);
    train::Trainer alone(model, data, options(out));
    try {
      alone.resume(out);
      FAIL() << "a 1-rank run resumed a 2-rank checkpoint";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("written by a run of 2 data-parallel rank(s); this run has 1"), std::string::npos) << e.what();
    }
    std::filesystem::remove_all(out);
  }
  g_comm->barrier();
}

}  // namespace
}  // namespace emrrg::testing
