// The trainer on the real data path: phantom studies through the DataLoader (worker threads,
// per-epoch shuffle), a tiny Llama trained as a report language model, validation by generation
// with every metric, and resume in the middle of an epoch.
#include <gtest/gtest.h>

#include <numeric>

#include "tests/train/trainer_test_util.h"
#include "train/data/loader.h"
#include "train/report_lm.h"
#include "train/report_validation.h"

namespace emrrg {
namespace {

using testing::ScratchDir;

struct PhantomData {
  ScratchDir dir{"phantom"};
  std::shared_ptr<const data::Tokenizer> tokenizer =
      data::load_tokenizer(std::string(EMRRG_FIXTURES_DIR) + "/tokenizers/tok512.model");
  std::unique_ptr<data::ReportDataset> train, val;
  PhantomData() {
    data::DatasetConfig d;
    d.annotation_path = testing::make_phantom(dir / "demo");
    d.image.size = 32;
    d.max_length = 40;
    train = std::make_unique<data::ReportDataset>(d, tokenizer);
    d.split = "val";
    val = std::make_unique<data::ReportDataset>(d, tokenizer);
  }
};

const PhantomData& phantom() {
  static const PhantomData data;
  return data;
}

std::unique_ptr<train::ReportLanguageModel> tiny_lm(uint64_t seed) {
  models::LlamaConfig c;
  c.vocab_size = phantom().tokenizer->vocab_size();
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 8;
  return std::make_unique<train::ReportLanguageModel>(c, phantom().tokenizer, seed);
}

data::LoaderConfig loader_config(bool shuffle) {
  data::LoaderConfig l;
  l.batch_size = 4;
  l.seed = 17;
  l.shuffle = shuffle;
  l.num_workers = 2;
  return l;
}

train::TrainerOptions lm_options(const std::string& out) {
  train::TrainerOptions o;
  o.epochs = 0;
  o.max_steps = 18;
  o.lr = 1e-2;
  o.lr_min = 1e-3;
  o.warmup_steps = 2;
  o.out_dir = out;
  o.tensorboard = false;
  return o;
}

TEST(ReportLanguageModel, LearnsThePhantomReportsAndIsValidatedByGeneration) {
  ScratchDir dir("report_lm");
  testing::OneThread one_thread;
  auto model = tiny_lm(1);
  data::DataLoader train_loader(*phantom().train, loader_config(true)),
      val_loader(*phantom().val, loader_config(false));
  train::LoaderSource train_data(train_loader), val_data(val_loader);
  train::GenerateConfig gen;
  gen.beams = 2;
  gen.max_new_tokens = 16;
  int validations = 0;
  train::TrainerOptions o = lm_options(dir.path);
  o.val_every = 9;
  train::Trainer trainer(*model, train_data, o, [&](train::Trainable& m, int64_t) {
    ++validations;
    return train::validate_by_generation(m, val_data, gen);
  });
  trainer.fit();
  ASSERT_EQ(trainer.history().size(), 18u);
  const auto mean_loss = [&](size_t from, size_t to) {
    double s = 0;
    for (size_t k = from; k < to; ++k) s += trainer.history()[k].loss;
    return s / static_cast<double>(to - from);
  };
  EXPECT_LT(mean_loss(14, 18), 0.6 * mean_loss(0, 4));  // from ~ln(512) down to the reports' style
  EXPECT_EQ(validations, 2);
  EXPECT_GE(trainer.state().best_step, 9);
  std::vector<train::GeneratedReport> reports;
  const train::Metrics m = train::validate_by_generation(*model, val_data, gen, &reports);
  ASSERT_EQ(reports.size(), phantom().val->size());
  EXPECT_FALSE(reports[0].generated.empty());
  EXPECT_GT(m.at("bleu_1"), 0.0);  // phantom reports share words; an untrained model writes noise
}

TEST(ReportLanguageModel, ResumesBitIdenticallyInTheMiddleOfAnEpochOfTheLoader) {
  ScratchDir dir("report_lm_resume");
  testing::OneThread one_thread;
  train::TrainerOptions o = lm_options(dir / "straight");
  o.max_steps = 8;
  o.checkpoint_every = 4;
  std::vector<double> straight;
  std::vector<std::vector<char>> straight_weights;
  {
    auto model = tiny_lm(2);
    data::DataLoader loader(*phantom().train, loader_config(true));
    train::LoaderSource data(loader);
    train::Trainer t(*model, data, o);
    ASSERT_EQ(t.steps_per_epoch(), 6);  // 21 training studies in batches of 4: the run crosses an epoch
    t.fit();
    for (const auto& s : t.history()) straight.push_back(s.loss);
    straight_weights = testing::parameter_bytes(*model);
  }
  o.out_dir = dir / "resumed";
  std::vector<double> resumed;
  {
    auto model = tiny_lm(2);
    data::DataLoader loader(*phantom().train, loader_config(true));
    train::LoaderSource data(loader);
    train::Trainer t(*model, data, o);
    for (int k = 0; k < 5; ++k) t.step();  // checkpoint at 4, step 5 is lost
    for (size_t k = 0; k < 4; ++k) resumed.push_back(t.history()[k].loss);
  }
  auto model = tiny_lm(5);
  data::DataLoader loader(*phantom().train, loader_config(true));
  train::LoaderSource data(loader);
  train::Trainer t(*model, data, o);
  ASSERT_TRUE(t.resume(o.out_dir));
  EXPECT_EQ(t.state().step, 4);
  EXPECT_EQ(t.state().batch_in_epoch, 4u);
  t.fit();
  for (const auto& s : t.history()) resumed.push_back(s.loss);
  EXPECT_EQ(resumed, straight);
  EXPECT_EQ(testing::parameter_bytes(*model), straight_weights);
}

}  // namespace
}  // namespace emrrg
