// `emrrg train` end to end on a phantom data set: the library entry and the program (config
// errors, --set, --resume).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/train/trainer_test_util.h"
#include "train/atomic_file.h"
#include "train/checkpoint.h"
#include "train/train_run.h"

namespace emrrg {
namespace {

using testing::ScratchDir;

std::string write_run_config(const ScratchDir& dir) {
  return testing::write_report_lm_config(dir,
                                         "max_steps = 6\nlr = 1e-2\nlr_min = 1e-3\nval_every = 3\ncheckpoint_every = 2\n"
                                         "out_dir = \"" + dir / "out" + "\"\n",
                                         6);
}

// Runs the program; returns its exit status, stdout and stderr in `output`.
int run_emrrg(const std::string& args, std::string& output) {
  FILE* p = popen((std::string(EMRRG_BINARY) + " " + args + " --threads 1 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  output.clear();
  while (size_t n = fread(buf, 1, sizeof(buf), p)) output.append(buf, n);
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(TrainCommand, TrainsValidatesCheckpointsAndLogs) {
  ScratchDir dir("train_command");
  testing::OneThread one_thread;
  std::ostringstream log;
  train::TrainRunOptions o;
  o.config_path = write_run_config(dir);
  o.overrides = {"train.max_steps=5"};
  const train::TrainerState s = train::run_training(o, log);
  EXPECT_EQ(s.step, 5);
  EXPECT_EQ(s.best_step >= 3, true);
  std::ifstream in(dir / "out/log.jsonl");
  int train_lines = 0, val_lines = 0;
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    if (j["type"] == "train") {
      ++train_lines;
      for (const char* k : {"step", "epoch", "loss", "lr", "grad_norm", "tokens_per_s", "images_per_s", "peak_rss_mb"})
        EXPECT_TRUE(j.contains(k)) << k;
    } else {
      ++val_lines;
      EXPECT_TRUE(j["metrics"].contains("ce_f1_micro"));
    }
  }
  EXPECT_EQ(train_lines, 5);
  EXPECT_EQ(val_lines, 2);                                                 // step 3 and the last step
  EXPECT_EQ(train::list_checkpoints(dir / "out/checkpoints").size(), 3u);  // 4, 5 and the best, 3
  EXPECT_FALSE(std::filesystem::is_empty(dir / "out/tensorboard"));
  EXPECT_NE(log.str().find("validation at step 3"), std::string::npos) << log.str();
}

TEST(TrainCommand, ProgramReportsConfigErrorsAndResumes) {
  ScratchDir dir("train_program");
  const std::string config = write_run_config(dir);
  std::string out;
  EXPECT_EQ(run_emrrg("train --config " + config + " --set train.lr=fast", out), 1);
  EXPECT_NE(out.find("emrrg: error: config '" + config + "': [train] lr must be a number, got a string"),
            std::string::npos)
      << out;
  EXPECT_EQ(run_emrrg("train --config " + config + " --set report_lm.depth=3", out), 1);
  EXPECT_NE(out.find("[report_lm] unknown key 'depth'"), std::string::npos) << out;

  // --device cuda without a usable GPU is an error saying what is missing (the build or the GPU).
  const int on_cuda =
      run_emrrg("train --config " + config + " --device cuda --set train.max_steps=1 --out " + dir / "cuda", out);
  if (on_cuda != 0)
    EXPECT_NE(out.find("emrrg: error: --device cuda: no CUDA device (this build has "), std::string::npos) << out;
  else
    EXPECT_NE(out.find(" on cuda:0, 21 training and 3 validation studies"), std::string::npos) << out;

  // --dist-init: a malformed spec is refused at parse time; a process that no launcher started,
  // or a CPU run, has no NCCL ranks to join.
  EXPECT_NE(run_emrrg("train --config " + config + " --dist-init tcp://host:1234", out), 0);
  EXPECT_NE(out.find("tcp://host:1234"), std::string::npos) << out;
  EXPECT_EQ(run_emrrg("train --config " + config + " --device cpu --dist-init file:" + dir / "nccl.id", out), 1);
  EXPECT_NE(out.find("--dist-init joins the ranks of a job, but this process was not started as one"), std::string::npos)
      << out;
  EXPECT_FALSE(std::filesystem::exists(dir / "nccl.id"));

  const std::string run = dir / "run";
  ASSERT_EQ(run_emrrg("train --config " + config + " --out " + run + " --device cpu", out), 0) << out;
  EXPECT_NE(out.find(" parameters) on cpu, 21 training and 3 validation studies"), std::string::npos) << out;
  const std::string first = train::read_file(run + "/checkpoints/step_00000006/model.safetensors");
  // Lose the last checkpoint and resume: steps 5 and 6 are redone to the same weights.
  std::filesystem::remove_all(run + "/checkpoints/step_00000006");
  ASSERT_EQ(run_emrrg("train --config " + config + " --resume " + run + " --device cpu", out), 0) << out;
  EXPECT_NE(out.find("continuing from " + run + "/checkpoints/step_00000004"), std::string::npos) << out;
  EXPECT_EQ(train::read_file(run + "/checkpoints/step_00000006/model.safetensors"), first);
}

TEST(TestCommand, ScoresTheTestSplitBesideTheBaselinesWithTestLoss) {
  ScratchDir dir("test_command");
  testing::OneThread one_thread;
  const std::string config = write_run_config(dir);
  std::ostringstream log;
  train::TrainRunOptions t;
  t.config_path = config;
  train::run_training(t, log);
  train::TestRunOptions o;
  o.config_path = config;
  o.weights = dir / "out/checkpoints/step_00000006";
  o.reports_path = dir / "reports.jsonl";
  const train::TestResult r = train::run_test(o, log);
  ASSERT_EQ(r.reports.size(), 6u);  // the phantom test split
  EXPECT_GT(r.metrics.at("test_loss"), 0.0);
  EXPECT_LT(r.metrics.at("test_loss"), std::log(512.0));  // trained: better than uniform over the vocabulary
  ASSERT_EQ(r.baselines.size(), 2u);
  std::ifstream in(o.reports_path);
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines)
    EXPECT_EQ(nlohmann::json::parse(line)["reference"], r.reports[static_cast<size_t>(lines)].reference);
  EXPECT_EQ(lines, 6);

  // The same weights, from the file; wrong weights are refused by name.
  o.weights = dir / "out/checkpoints/step_00000006/model.safetensors";
  o.reports_path.clear();
  EXPECT_EQ(train::run_test(o, log).metrics.at("test_loss"), r.metrics.at("test_loss"));
  o.overrides = {"report_lm.hidden_size=32"};
  try {
    train::run_test(o, log);
    ADD_FAILURE() << "weights of another shape loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("do not fit the model; 'model.embed_tokens.weight' has another shape"),
              std::string::npos)
        << e.what();
  }
  std::string out;
  ASSERT_EQ(run_emrrg("test --config " + config + " --weights " + dir / "out/checkpoints/step_00000006" + " --json --device cpu", out), 0)
      << out;
  const nlohmann::json j = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_EQ(j["model"]["test_loss"], r.metrics.at("test_loss"));
  EXPECT_TRUE(j["most frequent"].contains("cider"));
}

}  // namespace
}  // namespace emrrg
