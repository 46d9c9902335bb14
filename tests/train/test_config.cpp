#include <gtest/gtest.h>

#include <fstream>

#include "tests/train/trainer_test_util.h"
#include "train/config/run_config.h"
#include "train/config/toml_document.h"

namespace emrrg {
namespace {

using testing::ScratchDir;

std::string write_config(const ScratchDir& dir, const std::string& text) {
  const std::string path = dir / "config.toml";
  std::ofstream(path) << text;
  return path;
}

const char* kConfig = R"([data]
annotation = "data/iu/annotation.json"
dataset = "iu_xray"
max_length = 60

[train]
batch_size = 20
epochs = 30
lr = 1e-4
lr_min = 1e-6
warmup_steps = 100
grad_accum = 2
seed = 7
val_every = 0
out_dir = "runs/iu"

[generate]
beams = 5
min_new_tokens = 40
max_new_tokens = 100
repetition_penalty = 2.0
length_penalty = 2

[vision]
kind = "arm"
[vision.peft]
rank = 32
)";

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Config, ReadsTheTables) {
  ScratchDir dir("config_read");
  const std::string path = write_config(dir, kConfig);
  const toml::table doc = config::load_document(path);
  const config::DataConfig d = config::read_data_config(doc, path);
  EXPECT_EQ(d.annotation, "data/iu/annotation.json");
  EXPECT_EQ(d.max_length, 60);
  EXPECT_EQ(d.num_workers, 2);  // default
  const config::TrainConfig t = config::read_train_config(doc, path);
  EXPECT_EQ(t.batch_size, 20);
  EXPECT_EQ(t.seed, 7u);
  EXPECT_EQ(t.trainer.epochs, 30);
  EXPECT_DOUBLE_EQ(t.trainer.lr, 1e-4);
  EXPECT_EQ(t.trainer.grad_accum, 2);
  EXPECT_EQ(t.trainer.best_formula, "0.8 * bleu_4 + 0.2 * cider");
  const train::GenerateConfig g = config::read_generate_config(doc, path);
  EXPECT_EQ(g.beams, 5);
  EXPECT_DOUBLE_EQ(g.length_penalty, 2.0);  // an integer where a number is expected is fine
  const data::DatasetConfig ds = config::dataset_config(d, "val");
  EXPECT_EQ(ds.views, 2);
  EXPECT_EQ(ds.cleaning, data::ReportCleaning::IuXray);
  EXPECT_EQ(ds.split, "val");
  EXPECT_NO_THROW(config::reject_unknown_tables(doc, {"data", "train", "generate", "vision", "llm", "model"}, path));
}

TEST(Config, UnknownKeysAndWrongTypesNameTheKey) {
  ScratchDir dir("config_errors");
  std::string path = write_config(dir, "[train]\nepochs = 3\nlrr = 1e-4\n");
  std::string msg = error_of([&] { config::read_train_config(config::load_document(path), path); });
  EXPECT_NE(msg.find("config '" + path + "' line 3: [train] unknown key 'lrr'"), std::string::npos) << msg;
  path = write_config(dir, "[train]\nepochs = 3\nlr = \"fast\"\n");
  msg = error_of([&] { config::read_train_config(config::load_document(path), path); });
  EXPECT_NE(msg.find("line 3: [train] lr must be a number, got a string"), std::string::npos) << msg;
  path = write_config(dir, "[data]\nmax_length = 6.5\n");
  msg = error_of([&] { config::read_data_config(config::load_document(path), path); });
  EXPECT_NE(msg.find("[data] max_length must be an integer, got a number with a fraction"), std::string::npos) << msg;
  path = write_config(dir, "[data]\ndataset = \"iu\"\n");
  msg = error_of([&] { config::read_data_config(config::load_document(path), path); });
  EXPECT_NE(
      msg.find("[data] dataset must be one of \"iu_xray\", \"mimic_cxr\", \"chexpert_plus\", \"demo\", got \"iu\""),
      std::string::npos)
      << msg;
  path = write_config(dir, "[generate]\nbeams = 0\n");
  msg = error_of([&] { config::read_generate_config(config::load_document(path), path); });
  EXPECT_NE(msg.find("[generate] beams must be >= 1, got 0"), std::string::npos) << msg;
  path = write_config(dir, "[trian]\nepochs = 3\n");
  msg = error_of([&] { config::reject_unknown_tables(config::load_document(path), {"data", "train"}, path); });
  EXPECT_NE(msg.find("unknown table or key 'trian'"), std::string::npos) << msg;
  path = write_config(dir, "[train]\nepochs = \n");
  msg = error_of([&] { config::load_document(path); });
  EXPECT_NE(msg.find("config '" + path + "' line 2"), std::string::npos) << msg;
  path = write_config(dir, "train = 3\n");
  msg = error_of([&] { config::read_train_config(config::load_document(path), path); });
  EXPECT_NE(msg.find("train must be a table, got an integer"), std::string::npos) << msg;
  path = write_config(dir, "[train]\nepochs = 1\nbest_formula = \"0.8 *\"\n");
  msg = error_of([&] { config::read_train_config(config::load_document(path), path); });
  EXPECT_NE(msg.find("[train] best_formula is invalid"), std::string::npos) << msg;
}

TEST(Config, SetOverridesAnyKeyBeforeTheTablesAreRead) {
  ScratchDir dir("config_set");
  const std::string path = write_config(dir, kConfig);
  const toml::table doc = config::load_document(
      path, {"train.lr=3e-4", "train.epochs=2", "data.dataset=demo", "train.out_dir=2024", "generate.beams=3",
             "vision.peft.rank=16", "model.hybrid_layers=[0, 2]", "llm.path=\"weights/llama\""});
  const config::TrainConfig t = config::read_train_config(doc, path);
  EXPECT_DOUBLE_EQ(t.trainer.lr, 3e-4);
  EXPECT_EQ(t.trainer.epochs, 2);
  EXPECT_EQ(t.trainer.out_dir, "2024");                            // replaces a string: stays a string
  EXPECT_EQ(config::read_data_config(doc, path).dataset, "demo");  // a bare word is a string
  EXPECT_EQ(config::read_generate_config(doc, path).beams, 3);
  // Other helpers' tables see the overrides in the document, nested tables created as needed.
  EXPECT_EQ(doc["vision"]["peft"]["rank"].value<int64_t>(), 16);
  EXPECT_EQ(doc["vision"]["kind"].value<std::string>(), "arm");
  ASSERT_TRUE(doc["model"]["hybrid_layers"].is_array());
  EXPECT_EQ(doc["model"]["hybrid_layers"][1].value<int64_t>(), 2);
  EXPECT_EQ(doc["llm"]["path"].value<std::string>(), "weights/llama");

  // An override is checked like the file: wrong type, unknown key.
  std::string msg = error_of([&] { config::read_train_config(config::load_document(path, {"train.lr=fast"}), path); });
  EXPECT_NE(msg.find("[train] lr must be a number, got a string"), std::string::npos) << msg;
  msg = error_of([&] { config::read_train_config(config::load_document(path, {"train.epoch=3"}), path); });
  EXPECT_NE(msg.find("[train] unknown key 'epoch'"), std::string::npos) << msg;
  msg = error_of([&] { config::load_document(path, {"train.lr"}); });
  EXPECT_NE(msg.find("expected section.key=value"), std::string::npos) << msg;
  msg = error_of([&] { config::load_document(path, {"lr=1"}); });
  EXPECT_NE(msg.find("must name its table"), std::string::npos) << msg;
  msg = error_of([&] { config::load_document(path, {"train.lr.x=1"}); });
  EXPECT_NE(msg.find("'lr' is a number with a fraction, not a table"), std::string::npos) << msg;
}

}  // namespace
}  // namespace emrrg
