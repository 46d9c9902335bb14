// `mpirun -np 2 emrrg train` end to end on a phantom data set: rank 0 alone logs and
// checkpoints, the checkpoint records 2 ranks, a 2-rank resume continues it, and a 1-rank
// resume is refused naming both world sizes.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/distributed/job_runner.h"
#include "tests/train/trainer_test_util.h"
#include "train/atomic_file.h"

namespace emrrg::testing {
namespace {

int train_lines(const std::string& jsonl) {
  std::ifstream in(jsonl);
  int n = 0;
  for (std::string line; std::getline(in, line);) n += nlohmann::json::parse(line)["type"] == "train";
  return n;
}

TEST(TrainProgram, TwoRanksTrainCheckpointAndResume) {
  ScratchDir dir("mpi_train_program");
  const std::string config =
      write_report_lm_config(dir, "max_steps = 4\nlr = 1e-2\ncheckpoint_every = 2\n", 4);
  const std::string run = dir / "run", train = std::string(EMRRG_BINARY) + " train --config " + config;
  JobResult r = run_job(mpirun2() + train + " --out " + run + " --zero 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("data parallel over 2 ranks with ZeRO-1"), std::string::npos) << r.output;
  EXPECT_EQ(train_lines(run + "/log.jsonl"), 4);
  const nlohmann::json state = nlohmann::json::parse(train::read_file(run + "/checkpoints/step_00000004/trainer_state.json"));
  EXPECT_EQ(state["world_size"], 2);

  r = run_job(train + " --resume " + run + " --set train.max_steps=6 --threads 1");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("written by a run of 2 data-parallel rank(s); this run has 1"), std::string::npos) << r.output;

  r = run_job(mpirun2() + train + " --resume " + run + " --set train.max_steps=6 --zero 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("resume: continuing from"), std::string::npos) << r.output;
  EXPECT_EQ(train_lines(run + "/log.jsonl"), 6);
}

// The demo's own config (configs/demo.toml), both stages: the [pretrain] stage 1 is data
// parallel too, rank 0 writes the encoder once, and stage 2 starts from it on every rank.
TEST(TrainProgram, TwoRanksTrainTheDemoConfigWithItsPretrainingStage) {
  ScratchDir dir("mpi_train_demo_config");
  const std::string annotation = make_phantom(dir / "data", 32), run = dir / "run";
  // The config names its tokenizer relative to the source tree; ctest runs the test in the build tree.
  const std::string configs = std::string(EMRRG_SOURCE_DIR) + "/configs";
  const std::string train = std::string(EMRRG_BINARY) + " train --config " + configs + "/demo.toml" +
                            " --set data.annotation=" + annotation + " --set llm.tokenizer=" + configs +
                            "/demo_tokenizer.model --set pretrain.max_steps=3" +
                            " --set pretrain.batch_size=4 --set train.batch_size=4 --set train.val_every=4" +
                            " --set generate.beams=1 --set generate.min_new_tokens=1 --set generate.max_new_tokens=6";
  JobResult r = run_job(mpirun2() + train + " --set train.max_steps=4 --out " + run);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("3 steps, data parallel over 2 ranks"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("pretrain: wrote " + run + "/pretrain/encoder.safetensors"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("train: EMRRG"), std::string::npos) << r.output;
  EXPECT_EQ(train_lines(run + "/pretrain/log.jsonl"), 3);
  EXPECT_EQ(train_lines(run + "/log.jsonl"), 4);
  const nlohmann::json state = nlohmann::json::parse(train::read_file(run + "/checkpoints/step_00000004/trainer_state.json"));
  EXPECT_EQ(state["world_size"], 2);

  // The resumed job reuses the encoder on both ranks and continues stage 2.
  r = run_job(mpirun2() + train + " --set train.max_steps=6 --resume " + run);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("pretrain: using the stage-1 encoder"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("pretrain: the encoder"), std::string::npos) << r.output;
  EXPECT_EQ(train_lines(run + "/log.jsonl"), 6);
}

}  // namespace
}  // namespace emrrg::testing
