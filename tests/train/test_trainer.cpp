#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "autograd/tape.h"
#include "tests/train/trainer_test_util.h"
#include "train/atomic_file.h"
#include "train/checkpoint.h"
#include "train/grad_clip.h"
#include "train/lr_schedule.h"
#include "train/selection_formula.h"
#include "train/trainer.h"

namespace emrrg {
namespace {

using testing::parameter_bytes;
using testing::ScratchDir;
using testing::SpiralMlp;
using testing::SpiralSource;

TEST(LrSchedule, WarmupThenCosineToLrMin) {
  const train::LrSchedule s{1e-3, 1e-5, 4, 24, false, 1};
  EXPECT_DOUBLE_EQ(train::learning_rate(s, 0, 0), 1e-3 / 4);
  EXPECT_DOUBLE_EQ(train::learning_rate(s, 1, 0), 2e-3 / 4);
  EXPECT_DOUBLE_EQ(train::learning_rate(s, 3, 0), 1e-3);  // warm-up ends at lr
  EXPECT_DOUBLE_EQ(train::learning_rate(s, 4, 0), 1e-3);  // the cosine starts at lr
  // Steps 4..23 span the half cosine: the middle one (13.5) sits half-way; step 23 is lr_min.
  EXPECT_NEAR(train::learning_rate(s, 9, 0), 1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + std::cos(M_PI * 5.0 / 19.0)), 1e-18);
  EXPECT_DOUBLE_EQ(train::learning_rate(s, 23, 0), 1e-5);
  for (int64_t k = 5; k < 24; ++k) EXPECT_LT(train::learning_rate(s, k, 0), train::learning_rate(s, k - 1, 0));
}

TEST(LrSchedule, PerEpochFollowsCosineAnnealingLR) {
  // torch.optim.lr_scheduler.CosineAnnealingLR(T_max=5, eta_min=1e-6) from lr 1e-4, stepped per
  // epoch: eta_min + (lr - eta_min) * (1 + cos(pi * e / 5)) / 2.
  const train::LrSchedule s{1e-4, 1e-6, 0, 50, true, 5};
  const double expected[] = {1e-4, 9.05463412215599e-05, 6.57963412215599e-05, 3.52036587784401e-05,
                             1.0453658778440105e-05};
  for (int e = 0; e < 5; ++e) {
    EXPECT_NEAR(train::learning_rate(s, e * 10, e), expected[e], 1e-18) << "epoch " << e;
    EXPECT_EQ(train::learning_rate(s, e * 10, e), train::learning_rate(s, e * 10 + 9, e));
  }
}

TEST(GradClip, ScalesTheTotalNormToMaxNormLikePyTorch) {
  Tensor a = zeros({2}).set_requires_grad(), b = zeros({1}).set_requires_grad(), c = zeros({1}).set_requires_grad();
  a.set_grad(from_vector<float>({3, 0}, {2}));
  b.set_grad(from_vector<float>({4}, {1}));
  EXPECT_DOUBLE_EQ(train::clip_grad_norm({a, b, c}, 10.0), 5.0);       // c has no gradient
  EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{3, 0}));  // under the limit: untouched
  EXPECT_DOUBLE_EQ(train::clip_grad_norm({a, b, c}, 1.0), 5.0);
  const float coef = static_cast<float>(1.0 / (5.0 + 1e-6));
  EXPECT_FLOAT_EQ(a.grad().to_vector<float>()[0], 3 * coef);
  EXPECT_FLOAT_EQ(b.grad().to_vector<float>()[0], 4 * coef);
  EXPECT_NEAR(train::clip_grad_norm({a, b}, 0.0), 1.0, 1e-6);  // 0: measure only
  EXPECT_FALSE(c.grad().defined());
}

TEST(SelectionFormula, LinearCombinationsOfMetrics) {
  const train::SelectionFormula f("0.8 * bleu_4 + 0.2*cider");
  EXPECT_DOUBLE_EQ(f.evaluate({{"bleu_4", 0.5}, {"cider", 2.0}, {"meteor", 9}}), 0.8);
  EXPECT_DOUBLE_EQ(train::SelectionFormula("ce_f1 - 0.5 * rouge_l + bleu_1 * 2")
                       .evaluate({{"ce_f1", 1}, {"rouge_l", 1}, {"bleu_1", 1}}),
                   2.5);
  try {
    f.evaluate({{"bleu_4", 1}});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'cider'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(train::SelectionFormula("0.8 * "), std::invalid_argument);
  EXPECT_THROW(train::SelectionFormula("bleu_4 cider"), std::invalid_argument);
  EXPECT_THROW(train::SelectionFormula(""), std::invalid_argument);
}

train::TrainerOptions quiet_options(const std::string& out_dir) {
  train::TrainerOptions o;
  o.epochs = 3;
  o.lr = 1e-2;
  o.lr_min = 1e-4;
  o.warmup_steps = 2;
  o.weight_decay = 0.01;
  o.clip = 1.0;
  o.out_dir = out_dir;
  o.tensorboard = false;
  return o;
}

TEST(Trainer, AccumulatingMicroBatchesEqualsTheLargeBatch) {
  ScratchDir dir("accum");
  // 48 points: batch 12 in one step vs 4 micro-batches of 3; no dropout, the same order.
  SpiralMlp large(5, 0.0), micro(5, 0.0);
  SpiralSource large_data(48, 12, 3), micro_data(48, 3, 3);
  train::TrainerOptions o = quiet_options(dir / "large");
  train::Trainer t_large(large, large_data, o);
  o.out_dir = dir / "micro";
  o.grad_accum = 4;
  train::Trainer t_micro(micro, micro_data, o);
  ASSERT_EQ(t_large.total_steps(), 12);
  ASSERT_EQ(t_micro.total_steps(), 12);
  t_large.fit();
  t_micro.fit();
  for (size_t k = 0; k < t_large.history().size(); ++k) {
    EXPECT_NEAR(t_large.history()[k].loss, t_micro.history()[k].loss, 1e-6) << "step " << k + 1;
    EXPECT_NEAR(t_large.history()[k].grad_norm, t_micro.history()[k].grad_norm, 1e-6) << "step " << k + 1;
  }
  const auto a = large.trained_parameters(), b = micro.trained_parameters();
  for (size_t p = 0; p < a.size(); ++p) {
    const auto va = a[p].tensor.to_vector<float>(), vb = b[p].tensor.to_vector<float>();
    for (size_t i = 0; i < va.size(); ++i) EXPECT_NEAR(va[i], vb[i], 1e-6) << a[p].name << "[" << i << "]";
  }
  EXPECT_EQ(autograd::tape_size(), 0u);
}

TEST(Trainer, UnevenLastStepOfAnEpochUsesTheBatchesLeft) {
  ScratchDir dir("uneven");
  SpiralMlp m(1);
  SpiralSource data(30, 4, 1);  // 8 batches per epoch, accumulation 3: steps of 3, 3, 2
  train::TrainerOptions o = quiet_options(dir.path);
  o.grad_accum = 3;
  o.epochs = 2;
  o.device_memory_mb = [] { return 12.5; };
  train::Trainer t(m, data, o);
  EXPECT_EQ(t.steps_per_epoch(), 3);
  t.fit();
  EXPECT_EQ(t.state().step, 6);
  EXPECT_EQ(t.state().epoch, 2);
  // The JSONL records the micro-batches of every step.
  std::ifstream in(dir / "log.jsonl");
  std::vector<int64_t> micro;
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    micro.push_back(j["micro_batches"]);
    EXPECT_EQ(j["device_peak_mb"], 12.5);
  }
  EXPECT_EQ(micro, (std::vector<int64_t>{3, 3, 2, 3, 3, 2}));
}

struct RunResult {
  std::vector<double> losses;  // by step, 1-based index - 1
  std::vector<std::vector<char>> weights;
};

train::TrainerOptions resume_options(const std::string& out) {
  train::TrainerOptions o = quiet_options(out);
  o.epochs = 0;
  o.max_steps = 10;
  o.checkpoint_every = 2;
  o.keep_checkpoints = 3;
  return o;
}

RunResult uninterrupted_run(const std::string& out) {
  SpiralMlp m(11);
  SpiralSource data(40, 6, 9);  // 7 batches per epoch: steps 1-7 epoch 1, then epoch 2
  train::Trainer t(m, data, resume_options(out));
  t.fit();
  RunResult r;
  for (const auto& s : t.history()) r.losses.push_back(s.loss);
  r.weights = parameter_bytes(m);
  return r;
}

// Trains `stop_after` steps in one trainer, then continues in a fresh process-like setting: a
// new model with other initial weights, a new data source and trainer, resumed from the run dir.
RunResult interrupted_run(const std::string& out, int stop_after, std::ostream* log = nullptr,
                          const std::function<void()>& between = {}) {
  RunResult r;
  {
    SpiralMlp m(11);
    SpiralSource data(40, 6, 9);
    train::Trainer t(m, data, resume_options(out));
    for (int k = 0; k < stop_after; ++k) EXPECT_TRUE(t.step());
    for (const auto& s : t.history()) r.losses.push_back(s.loss);
  }
  if (between) between();
  SpiralMlp m(99);
  SpiralSource data(40, 6, 9);
  train::Trainer t(m, data, resume_options(out), {}, log);
  EXPECT_TRUE(t.resume(out));
  r.losses.resize(static_cast<size_t>(t.state().step));  // steps after the checkpoint are redone
  t.fit();
  for (const auto& s : t.history()) r.losses.push_back(s.loss);
  r.weights = parameter_bytes(m);
  return r;
}

TEST(Trainer, ResumeIsBitIdenticalOverTenSteps) {
  ScratchDir dir("resume");
  const RunResult straight = uninterrupted_run(dir / "straight");
  ASSERT_EQ(straight.losses.size(), 10u);
  EXPECT_LT(straight.losses.back(), straight.losses.front());
  // Stopped after step 5 (checkpoint at 4: step 5 is redone) and after 8 (mid epoch 2).
  for (int stop : {5, 8}) {
    const RunResult resumed = interrupted_run(dir / ("stop" + std::to_string(stop)), stop);
    EXPECT_EQ(resumed.losses, straight.losses) << "stopped after " << stop;  // bit-identical doubles
    EXPECT_EQ(resumed.weights, straight.weights) << "stopped after " << stop;
  }
}

TEST(Trainer, TruncatedCheckpointIsRefusedAndThePreviousOneUsed) {
  ScratchDir dir("truncated");
  const RunResult straight = uninterrupted_run(dir / "straight");
  const std::string out = dir / "run";
  std::ostringstream log;
  const RunResult resumed = interrupted_run(out, 6, &log, [&] {
    const std::string ck = out + "/checkpoints/step_00000006";
    const std::string weights = ck + "/model.safetensors";
    std::filesystem::resize_file(weights, std::filesystem::file_size(weights) / 2);
    try {
      train::load_checkpoint(ck);
      ADD_FAILURE() << "a truncated checkpoint loaded";
    } catch (const std::runtime_error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("step_00000006' refused: model.safetensors has"), std::string::npos) << msg;
      EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
    }
    // A save killed half-way leaves a temporary directory: it is ignored and removed.
    std::filesystem::create_directories(out + "/checkpoints/.tmp-step_00000008.123");
  });
  EXPECT_NE(log.str().find("step_00000006' refused"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("continuing from " + out + "/checkpoints/step_00000004"), std::string::npos) << log.str();
  EXPECT_FALSE(std::filesystem::exists(out + "/checkpoints/.tmp-step_00000008.123"));
  EXPECT_EQ(resumed.losses, straight.losses);
  EXPECT_EQ(resumed.weights, straight.weights);
  // The log lists each step once, in order, after the redo.
  std::ifstream in(out + "/log.jsonl");
  std::vector<int64_t> steps;
  for (std::string line; std::getline(in, line);) steps.push_back(nlohmann::json::parse(line)["step"]);
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
}

TEST(Trainer, AFreshRunRefusesAFolderWithCheckpointsAndAResumeWithoutOneStartsClean) {
  ScratchDir dir("fresh");
  SpiralSource data(40, 6, 9);
  {
    SpiralMlp m(11);
    train::Trainer t(m, data, resume_options(dir.path));
    t.step();
    t.step();
  }
  SpiralMlp m(11);
  train::Trainer fresh(m, data, resume_options(dir.path));
  try {
    fresh.step();
    FAIL() << "a fresh run trained into a folder with checkpoints";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("already holds checkpoints of a run"), std::string::npos) << e.what();
  }
  // Killed after logging step 1 but before its checkpoint: the resumed run starts over and logs
  // every step once.
  std::filesystem::remove_all(dir / "checkpoints");
  train::Trainer again(m, data, resume_options(dir.path));
  EXPECT_FALSE(again.resume(dir.path));
  again.fit();
  std::ifstream in(dir / "log.jsonl");
  std::vector<int64_t> steps;
  for (std::string line; std::getline(in, line);) steps.push_back(nlohmann::json::parse(line)["step"]);
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
}

TEST(Checkpoint, CorruptStateOrDataIsRefusedWithTheReason) {
  ScratchDir dir("corrupt");
  train::TrainerState s;
  s.step = 3;
  s.generators = {{"dropout", 5, 17}};
  const std::map<std::string, Tensor> w = {{"w", from_vector<float>({1, 2, 3}, {3})}};
  const std::string ck =
      train::save_checkpoint(dir.path, s, w, {{"exp_avg.w", zeros({3})}, {"exp_avg_sq.w", zeros({3})}});
  const train::Checkpoint back = train::load_checkpoint(ck);
  EXPECT_EQ(back.state.step, 3);
  EXPECT_EQ(back.state.generators[0].offset, 17u);
  EXPECT_EQ(back.weights.at("w").to_vector<float>(), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(back.state.best_step, -1);

  const auto expect_refused = [&](const std::string& needle) {
    try {
      train::load_checkpoint(ck);
      ADD_FAILURE() << "loaded; expected: " << needle;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  // Same length, one byte flipped.
  std::string bytes = train::read_file(ck + "/optimizer.safetensors");
  bytes.back() ^= 1;
  std::ofstream(ck + "/optimizer.safetensors", std::ios::binary) << bytes;
  expect_refused("optimizer.safetensors does not match its CRC-32C");
  const std::string state = train::read_file(ck + "/trainer_state.json");
  std::ofstream(ck + "/trainer_state.json", std::ios::binary) << state.substr(0, state.size() / 2);
  expect_refused("trainer_state.json is unreadable or not JSON");
  std::filesystem::remove(ck + "/trainer_state.json");
  expect_refused("trainer_state.json is unreadable");
}

TEST(Trainer, ValidationKeepsTheBestCheckpointByTheFormula) {
  ScratchDir dir("best");
  SpiralMlp m(3);
  SpiralSource data(40, 8, 2);  // 5 batches per epoch
  train::TrainerOptions o = quiet_options(dir.path);
  o.epochs = 0;
  o.max_steps = 12;
  o.val_every = 2;
  o.keep_checkpoints = 1;
  o.best_formula = "0.5 * bleu_4 + 0.5 * cider";
  std::vector<int64_t> validated;
  std::vector<bool> training_during_val;
  const train::Validator val = [&](train::Trainable&, int64_t step) {
    validated.push_back(step);
    training_during_val.push_back(m.model().is_training());
    const double d = static_cast<double>(step - 6);
    return train::Metrics{{"bleu_4", -d * d}, {"cider", 1.0}};  // best at step 6
  };
  std::ostringstream log;
  train::Trainer t(m, data, o, val, &log);
  t.fit();
  EXPECT_EQ(validated, (std::vector<int64_t>{2, 4, 6, 8, 10, 12}));
  for (bool b : training_during_val) EXPECT_FALSE(b);
  EXPECT_TRUE(m.model().is_training());
  EXPECT_EQ(t.state().best_step, 6);
  EXPECT_DOUBLE_EQ(t.state().best_score, 0.5);
  const nlohmann::json best = nlohmann::json::parse(train::read_file(dir / "best.json"));
  EXPECT_EQ(best["step"], 6);
  // Only the newest checkpoint is kept, and the best one.
  std::vector<std::string> kept;
  for (const std::string& c : train::list_checkpoints(dir / "checkpoints"))
    kept.push_back(std::filesystem::path(c).filename());
  EXPECT_EQ(kept, (std::vector<std::string>{"step_00000012", "step_00000006"}));
  EXPECT_EQ(train::load_checkpoint(best["checkpoint"]).state.step, 6);
  // The table and the progress line.
  EXPECT_NE(log.str().find("validation at step 6: score 0.5"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("bleu_4"), std::string::npos);
  EXPECT_NE(log.str().find("eta"), std::string::npos);
  EXPECT_NE(log.str().find("tok/s"), std::string::npos);
  // A resume rewrites best.json from its checkpoint's state: a kill after the best checkpoint
  // was renamed into place and before best.json was written leaves none (or the previous best's).
  for (const char* left : {"", "{\"step\": 4}"}) {
    std::filesystem::remove(dir / "best.json");
    if (*left) std::ofstream(dir / "best.json") << left;
    train::Trainer again(m, data, o, val, nullptr);
    ASSERT_TRUE(again.resume(dir.path));
    EXPECT_EQ(nlohmann::json::parse(train::read_file(dir / "best.json")), best) << left;
  }
}

// Files may not grow past `bytes` while it lives (a full disk, as EFBIG instead of ENOSPC).
struct FileSizeLimit {
  rlimit previous{};
  void (*previous_handler)(int);
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &previous);
    previous_handler = std::signal(SIGXFSZ, SIG_IGN);  // a failed write instead of a killed process
    rlimit limit = previous;
    limit.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &previous);
    std::signal(SIGXFSZ, previous_handler);
  }
};

TEST(Trainer, FullDiskDuringACheckpointKeepsThePreviousOne) {
  ScratchDir dir("full_disk");
  const auto options = [&] {
    train::TrainerOptions o = quiet_options(dir / "run");
    o.checkpoint_every = 1;
    o.epochs = 0;
    o.max_steps = 4;
    return o;
  };
  SpiralSource data(40, 8, 1);
  {
    SpiralMlp m(6, 0.1, 4096);  // 16 KiB of weights, 32 KiB of moments
    train::Trainer t(m, data, options());
    ASSERT_TRUE(t.step());
    ASSERT_TRUE(t.step());
    FileSizeLimit limit(20 * 1024);
    try {
      t.step();
      ADD_FAILURE() << "the checkpoint of step 3 was written past the file size limit";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("optimizer.safetensors' failed: File too large"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(train::list_checkpoints(dir / "run/checkpoints").front(), dir / "run/checkpoints/step_00000002");
  EXPECT_EQ(train::load_checkpoint(dir / "run/checkpoints/step_00000002").state.step, 2);
  // With space again, the run resumes from step 2 and finishes.
  SpiralMlp m(7, 0.1, 4096);
  train::Trainer t(m, data, options());
  ASSERT_TRUE(t.resume(dir / "run"));
  EXPECT_EQ(t.state().step, 2);
  t.fit();
  EXPECT_EQ(t.state().step, 4);
}

// The spiral MLP whose third loss is NaN.
class NanAtThirdLoss : public SpiralMlp {
 public:
  NanAtThirdLoss() : SpiralMlp(4) {}
  Tensor loss(const data::Batch& b) override {
    Tensor l = SpiralMlp::loss(b);
    return ++calls_ == 3 ? mul(l, std::nan("")) : l;
  }

 private:
  int calls_ = 0;
};

TEST(Trainer, NonFiniteLossStopsBeforeTheUpdate) {
  ScratchDir dir("nan");
  NanAtThirdLoss m;
  SpiralSource data(40, 8, 1);
  train::TrainerOptions o = quiet_options(dir.path);
  o.checkpoint_every = 1;
  train::Trainer t(m, data, o);
  try {
    t.fit();
    FAIL() << "a NaN loss was trained on";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("the loss is nan at step 3 (epoch 1, batch 3"), std::string::npos) << e.what();
  }
  EXPECT_EQ(t.state().step, 2);
  EXPECT_EQ(train::list_checkpoints(dir / "checkpoints").front(), dir / "checkpoints/step_00000002");
}

TEST(Trainer, ValidatesEvenlyWithinEachEpoch) {
  ScratchDir dir("val_per_epoch");
  SpiralMlp m(3);
  SpiralSource data(40, 4, 2);  // 10 steps per epoch
  train::TrainerOptions o = quiet_options(dir.path);
  o.epochs = 2;
  o.val_per_epoch = 3;
  o.checkpoint_every = 100;
  std::vector<int64_t> validated;
  train::Trainer t(m, data, o, [&](train::Trainable&, int64_t step) {
    validated.push_back(step);
    return train::Metrics{{"bleu_4", 0}, {"cider", 0}};
  });
  t.fit();
  EXPECT_EQ(validated, (std::vector<int64_t>{4, 7, 10, 14, 17, 20}));
}

TEST(Trainer, BadOptionsAreErrors) {
  ScratchDir dir("bad");
  SpiralMlp m(1);
  SpiralSource data(10, 5, 1);
  train::TrainerOptions o = quiet_options(dir.path);
  o.grad_accum = 0;
  EXPECT_THROW(train::Trainer(m, data, o), std::invalid_argument);
  o = quiet_options(dir.path);
  o.epochs = 0;
  EXPECT_THROW(train::Trainer(m, data, o), std::invalid_argument);
  o = quiet_options(dir.path);
  o.best_formula = "bleu_4 +";
  EXPECT_THROW(train::Trainer(m, data, o), std::invalid_argument);
  o = quiet_options(dir.path);
  o.log_every = 0;
  EXPECT_THROW(train::Trainer(m, data, o), std::invalid_argument);
}

}  // namespace
}  // namespace emrrg
