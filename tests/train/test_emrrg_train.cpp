// EMRRG through the trainer: `emrrg train` with its stage-1 encoder pre-training, `emrrg test`,
// `emrrg generate --config`, the four shipped configs, and the demo pipeline in CI size.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "models/emrrg/parameter_count.h"
#include "runtime/checkpoint.h"
#include "runtime/safetensors.h"
#include "tests/train/tiny_emrrg_run.h"
#include "tests/train/trainer_test_util.h"
#include "train/config/run_config.h"
#include "train/config/toml_document.h"
#include "train/emrrg_demo.h"
#include "train/emrrg_trainable.h"
#include "train/train_run.h"

namespace emrrg {
namespace {

using testing::ScratchDir;

const std::string kConfigs = EMRRG_CONFIGS_DIR;

std::string write_emrrg_config(const ScratchDir& dir) {
  return testing::write_tiny_emrrg_config(dir, kConfigs + "/demo_tokenizer.model");
}

TEST(EmrrgTrain, PretrainsTheEncoderTrainsTestsAndGenerates) {
  ScratchDir dir("emrrg_train");
  testing::OneThread one_thread;
  std::ostringstream log;
  train::TrainRunOptions o;
  o.config_path = write_emrrg_config(dir);
  EXPECT_EQ(train::run_training(o, log).step, 4);
  const std::string encoder = dir / "out/pretrain/encoder.safetensors";
  ASSERT_TRUE(std::filesystem::exists(encoder)) << log.str();
  EXPECT_FALSE(SafetensorsFile::open(encoder).contains("head.weight"));  // the label head stays behind
  EXPECT_TRUE(SafetensorsFile::open(encoder).contains("layers.0.mixer.in_proj.weight"));

  // The checkpoint holds what trains, under the model's names: adapters, projector, hybrid
  // parameters and (trained from scratch) the LLM; not the frozen encoder weights.
  const SafetensorsFile weights = SafetensorsFile::open(dir / "out/checkpoints/step_00000004/model.safetensors");
  for (const char* name : {"llama_proj.weight", "layer_norm.weight", "llm.model.layers.1.self_attn.cross_attn_warm_up_gate",
                           "llm.model.layers.0.self_attn.cross_attn_kv_proj.weight", "llm.model.embed_tokens.weight"})
    EXPECT_TRUE(weights.contains(name)) << name;
  bool adapter = false;
  for (const std::string& name : weights.names()) {
    adapter |= name.rfind("visual_encoder.", 0) == 0 && name.find("lora") != std::string::npos;
    EXPECT_FALSE(name == "visual_encoder.layers.0.mixer.in_proj.weight") << "the encoder is frozen";
  }
  EXPECT_TRUE(adapter);

  // Resuming the run reuses the stage-1 encoder.
  std::ostringstream again;
  o.resume_dir = dir / "out";
  EXPECT_EQ(train::run_training(o, again).step, 4);
  EXPECT_NE(again.str().find("using the stage-1 encoder " + encoder), std::string::npos) << again.str();

  train::TestRunOptions t;
  t.config_path = o.config_path;
  t.weights = dir / "out/checkpoints/step_00000004";
  const train::TestResult r = train::run_test(t, log);
  ASSERT_EQ(r.reports.size(), 6u);
  EXPECT_TRUE(std::isfinite(r.metrics.at("test_loss")));
  EXPECT_GT(r.metrics.at("test_loss"), 0.0);
  EXPECT_TRUE(r.metrics.count("ce_f1_micro"));
  for (const auto& g : r.reports) EXPECT_FALSE(g.generated.empty()) << g.id;  // min_new_tokens 2

  // One study's two views from their files: the test run's report for it.
  train::ReportGenerationOptions g;
  g.config_path = o.config_path;
  g.weights = t.weights;
  const std::string images = dir / "data/images/" + r.reports[0].id;
  g.images = {images + "/0.png", images + "/1.png"};
  EXPECT_EQ(train::generate_report(g), r.reports[0].generated);

  // The frozen encoder is the stage-1 one from the run folder, not in the checkpoint: without it
  // the weights are refused.
  std::filesystem::remove(encoder);
  try {
    train::run_test(t, log);
    ADD_FAILURE() << "tested without the stage-1 encoder";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no pretrain/encoder.safetensors"), std::string::npos) << e.what();
  }
}

// [random_init] dimensions made tiny, so a paper config's whole model is built and run in CI.
std::vector<std::string> tiny_random_init(const std::string& tokenizer) {
  return {"random_init.tokenizer=\"" + std::string(EMRRG_FIXTURES_DIR) + "/tokenizers/" + tokenizer + "\"",
          "random_init.llm.hidden_size=16", "random_init.llm.num_hidden_layers=25",
          "random_init.llm.num_attention_heads=2", "random_init.llm.num_key_value_heads=2",
          "random_init.llm.intermediate_size=16", "vision.d_model=16", "vision.depth=1", "vision.image_size=32",
          "vision.dtype=\"float32\"", "llm.dtype=\"float32\""};
}

TEST(EmrrgConfigs, PaperConfigsCountTheirModelsAndBuildWithRandomWeights) {
  struct Paper {
    const char* file;
    const char* tokenizer;
    double llm_millions;
    int64_t views;
    std::vector<int64_t> hybrid_layers;
  };
  for (const Paper& p : {Paper{"iu_xray.toml", "qwen2_style_bpe.json", 1836.68, 2, {0, 8, 16, 23}},
                         Paper{"mimic_cxr.toml", "llama2.model", 6738.42, 1, {0, 8, 16, 24}},
                         Paper{"chexpert_plus.toml", "llama2.model", 6738.42, 1, {0, 8, 16, 24}}}) {
    SCOPED_TRACE(p.file);
    const std::string path = kConfigs + "/" + p.file;
    const std::string tokenizer =
        "random_init.tokenizer=\"" + std::string(EMRRG_FIXTURES_DIR) + "/tokenizers/" + p.tokenizer + "\"";
    const toml::table doc = config::load_document(path);
    EXPECT_EQ(config::read_train_config(doc, path).trainer.val_per_epoch, p.views == 1 ? 2 : 1);
    EXPECT_EQ(config::read_train_config(doc, path).trainer.precision, "bf16");  // float32 masters for the bfloat16 weights
    EXPECT_EQ(config::read_generate_config(doc, path).beams, p.views == 1 ? 3 : 5);
    EXPECT_EQ(config::read_data_config(doc, path).max_length, p.views == 1 ? 100 : 60);
    // Without the files the paper configs name what is missing; --random-init needs none of them.
    EXPECT_THROW(train::read_emrrg_setup(config::load_document(path), path, false), std::runtime_error);
    const train::EmrrgSetup paper = train::read_emrrg_setup(config::load_document(path, {tokenizer}), path, true);
    const models::EmrrgParameterCount n = models::count_parameters(paper.config);
    EXPECT_NEAR(n.llm / 1e6, p.llm_millions, 0.01);  // Qwen1.5-1.8B has 1836.83 M: its q/k/v biases are not among [llm]'s keys
    EXPECT_NEAR(n.vision / 1e6, 84.26, 0.01);        // ARM-Base at 224 px
    EXPECT_EQ(paper.config.hybrid_layers, p.hybrid_layers);
    EXPECT_TRUE(paper.config.vision.peft.lora_p_x);
    EXPECT_EQ(paper.config.vision.peft.rank, 32);

    const train::EmrrgSetup small = train::read_emrrg_setup(config::load_document(path, tiny_random_init(p.tokenizer)), path, true);
    auto model = train::build_emrrg_trainable(small, 1);
    data::Batch b;
    b.images = randn({1, p.views, 3, 32, 32}, 0.0, 1.0, default_generator());
    b.report_ids = from_vector(std::vector<int64_t>{5, 6, 7, 0}, {1, 4});
    b.report_mask = from_vector(std::vector<float>{1, 1, 1, 0}, {1, 4});
    const double loss = model->loss(b).item();
    EXPECT_TRUE(std::isfinite(loss));
    // The random LLM of a paper config is frozen as the real one would be.
    EXPECT_FALSE(model->model().llm->embed_tokens().weight.requires_grad());
  }
}

TEST(EmrrgConfigs, DemoConfigBuildsAModelWhoseLlmTrainsWhole) {
  const std::string path = kConfigs + "/demo.toml";
  const toml::table doc =
      config::load_document(path, {"llm.tokenizer=\"" + kConfigs + "/demo_tokenizer.model\""});
  EXPECT_TRUE(doc.contains("pretrain"));
  auto model = train::build_emrrg_trainable(train::read_emrrg_setup(doc, path, false), 1);
  const models::EmrrgParameterCount n = models::count_parameters(model->model());
  EXPECT_EQ(n, models::count_parameters(model->model().config()));
  EXPECT_LT(n.total(), 3'000'000);  // small enough for 2 CPU cores
  EXPECT_TRUE(model->model().llm->embed_tokens().weight.requires_grad());
  EXPECT_FALSE(model->model().visual_encoder->patch_embed->proj->weight.requires_grad());
}

// A backbone saved under DDP's "module." prefix with a classification head (the tiny ARM of
// make_encode_golden.py plus a head), as MambaXray-VL's and Vim's released files are shaped: the
// [weights] keys map and filter its names so `emrrg train` can start from it; without them the
// error lists the keys and names the rename that fits; a rename without '=' is refused by key.
TEST(EmrrgConfigs, WeightsTableMapsTheBackbonesNamesOntoTheEncoder) {
  const ScratchDir dir("emrrg_backbone_names");
  const std::string fixtures = std::string(EMRRG_FIXTURES_DIR) + "/encode/";
  std::map<std::string, Tensor> state = read_checkpoint(fixtures + "arm_tiny.pth");  // "module." names
  state.emplace("module.head.weight", zeros({14, 24}));
  const std::string backbone = dir / "backbone.safetensors";
  save_safetensors(backbone, state);
  std::ifstream vision(fixtures + "arm_tiny.toml");
  std::stringstream base;
  base << vision.rdbuf() << "[llm]\ntokenizer = \"" << kConfigs << "/demo_tokenizer.model\"\nvocab_size = 512\n"
       << "hidden_size = 16\nnum_hidden_layers = 2\nnum_attention_heads = 2\nintermediate_size = 32\n"
       << "[model]\nllm_tuning = \"hybrid\"\nhybrid_layers = [1]\n[weights]\nbackbone = \"" << backbone << "\"\n";
  auto build = [&](const std::string& weights_keys) {
    const std::string path = dir / "emrrg.toml";
    std::ofstream(path) << base.str() << weights_keys;
    return train::build_emrrg_trainable(train::read_emrrg_setup(config::load_document(path), path, false), 1);
  };
  auto error_of = [&](const std::string& weights_keys) {
    try {
      build(weights_keys);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };

  const std::string bare = error_of("");
  EXPECT_NE(bare.find("unexpected keys (95)"), std::string::npos) << bare;
  EXPECT_NE(bare.find("the prefix rename \"module.=\" maps them"), std::string::npos) << bare;
  const std::string head = error_of("backbone_rename = [\"module.=\"]\n");
  EXPECT_NE(head.find("unexpected keys (1): head.weight"), std::string::npos) << head;
  const std::string bad = error_of("backbone_rename = [\"module.\"]\n");
  EXPECT_NE(bad.find("[weights] backbone_rename entry \"module.\" is not \"FROM=TO\""), std::string::npos) << bad;
  EXPECT_NE(error_of("backbone_exclude = \"head\"\n").find("[weights] backbone_exclude must be an array of strings"),
            std::string::npos);

  auto model = build("backbone_rename = [\"module.=\"]\nbackbone_exclude = ['head\\..*']\n");
  const auto encoder = model->model().visual_encoder->state_dict();
  for (const auto& [name, t] : state) {
    if (name == "module.head.weight") continue;
    EXPECT_EQ(cast(encoder.at(name.substr(7)), DType::Float32).to_vector<float>(),
              cast(t, DType::Float32).to_vector<float>())
        << name;
  }
}

// The demo pipeline in CI size (issue 11 item 10): a 60-study phantom set at 32 px, a few
// stage-1 and stage-2 steps; both losses fall and the test table is printed.
TEST(EmrrgDemo, SmallPipelineLowersBothLossesAndPrintsTheTable) {
  ScratchDir dir("emrrg_demo");
  testing::OneThread one_thread;
  train::EmrrgDemoOptions o;
  o.config_path = kConfigs + "/demo.toml";
  o.data_dir = dir / "data";
  o.out_dir = dir / "run";
  o.studies = 60;
  o.image_size = 32;
  o.overrides = {"vision.image_size=32", "pretrain.max_steps=20", "pretrain.batch_size=8", "train.max_steps=30",
                 "train.warmup_steps=5", "train.val_every=0", "train.tensorboard=false", "generate.beams=1",
                 "generate.max_new_tokens=30"};
  std::ostringstream log;
  const train::EmrrgDemoResult r = train::run_emrrg_demo(o, log);
  EXPECT_EQ(r.state.step, 30);
  auto losses = [](const std::string& jsonl) {
    std::vector<double> out;
    for (const nlohmann::json& j : testing::log_records(jsonl, "train")) out.push_back(j["loss"].get<double>());
    return out;
  };
  auto mean_of = [](const std::vector<double>& v, size_t begin, size_t end) {
    double s = 0;
    for (size_t i = begin; i < end; ++i) s += v[i];
    return s / static_cast<double>(end - begin);
  };
  const std::vector<double> stage1 = losses(dir / "run/pretrain/log.jsonl"), stage2 = losses(dir / "run/log.jsonl");
  ASSERT_EQ(stage1.size(), 20u);
  ASSERT_EQ(stage2.size(), 30u);
  EXPECT_LT(mean_of(stage1, 15, 20), 0.8 * mean_of(stage1, 0, 5)) << log.str();
  EXPECT_LT(mean_of(stage2, 25, 30), 0.8 * mean_of(stage2, 0, 5)) << log.str();
  ASSERT_EQ(r.test.baselines.size(), 2u);
  EXPECT_NE(log.str().find("most frequent"), std::string::npos);
  EXPECT_NE(log.str().find("EMRRG"), std::string::npos);
}

}  // namespace
}  // namespace emrrg
