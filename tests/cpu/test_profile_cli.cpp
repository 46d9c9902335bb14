// --profile on the emrrg subcommands: the program writes a valid trace of the traced steps and
// prints the summary table (stderr).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <unistd.h>

#include "train/data/demo_data.h"

namespace emrrg {
namespace {

namespace fs = std::filesystem;

struct CliRun {
  int rc;
  std::string stderr_text;
};

CliRun run_emrrg(const std::string& args) {
  // ctest runs each test as its own process, in parallel: one stderr file per test process.
  const fs::path err = fs::temp_directory_path() / ("emrrg_profile_cli_stderr_" + std::to_string(getpid()) + ".txt");
  const int rc = std::system((std::string(EMRRG_BINARY) + " " + args + " > /dev/null 2> " + err.string()).c_str());
  std::ifstream f(err);
  std::stringstream s;
  s << f.rdbuf();
  fs::remove(err);
  return {rc, s.str()};
}

std::set<std::string> complete_event_names(const fs::path& trace, const std::string& category) {
  std::ifstream f(trace);
  const nlohmann::json j = nlohmann::json::parse(f);
  std::set<std::string> names;
  for (const nlohmann::json& e : j.at("traceEvents"))
    if (e.at("ph") == "X" && e.at("cat") == category) names.insert(e.at("name"));
  return names;
}

TEST(ProfileCli, DemoTracesItsTrainingSteps) {
  const fs::path trace = fs::temp_directory_path() / "emrrg_profile_cli_demo.json";
  const CliRun r = run_emrrg("demo-mlp --steps 6 --hidden 8 --profile " + trace.string() +
                          " --profile-warmup 2 --profile-steps 2");
  ASSERT_EQ(r.rc, 0) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("calls"), std::string::npos) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("matmul"), std::string::npos) << r.stderr_text;
  const std::set<std::string> ops = complete_event_names(trace, "op");
  const std::set<std::string> phases = complete_event_names(trace, "phase");
  fs::remove(trace);
  EXPECT_TRUE(ops.count("matmul") && ops.count("cross_entropy") && ops.count("gelu"));
  EXPECT_EQ(phases, (std::set<std::string>{"forward", "backward", "optimizer"}));
}

// Issue 14's "emrrg train --config configs/demo.toml --profile t.json": the shipped demo config
// (stage 1 pre-trains the encoder, stage 2 trains EMRRG), made small by --set on a 30-study
// phantom set at 32 px. The trace holds stage 2's steps only: even with no warm-up, the two
// traced steps are one trainer's (two of each phase) and the stage-1 loss (softplus) is absent.
TEST(ProfileCli, TrainTracesTheEmrrgStepsOfTheDemoConfig) {
  const fs::path dir = fs::temp_directory_path() / ("emrrg_profile_cli_train_" + std::to_string(getpid()));
  fs::remove_all(dir);
  data::DemoDataConfig d;
  d.out_dir = (dir / "data").string();
  d.n = 30;
  d.size = 32;
  d.seed = 3;
  d.threads = 1;
  data::make_demo_data(d);
  const std::string source = EMRRG_SOURCE_DIR;
  const fs::path trace = dir / "t.json";
  std::string sets;
  for (const std::string& s : {"data.annotation=" + (dir / "data" / "annotation.json").string(),
                               "llm.tokenizer=" + source + "/configs/demo_tokenizer.model", std::string("vision.image_size=32"),
                               std::string("pretrain.max_steps=2"), std::string("pretrain.batch_size=4"),
                               std::string("train.max_steps=3"), std::string("train.batch_size=2"),
                               std::string("train.tensorboard=false"), std::string("generate.beams=1"),
                               std::string("generate.min_new_tokens=1"), std::string("generate.max_new_tokens=4")})
    sets += " --set " + s;
  const CliRun r = run_emrrg("train --config " + source + "/configs/demo.toml --threads 1 --out " + (dir / "run").string() +
                             sets + " --profile " + trace.string() + " --profile-warmup 0 --profile-steps 2");
  ASSERT_EQ(r.rc, 0) << r.stderr_text;
  // The summary table, on stderr.
  EXPECT_NE(r.stderr_text.find("calls"), std::string::npos) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("selective_scan"), std::string::npos) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("profile: trace written to " + trace.string()), std::string::npos) << r.stderr_text;

  // Valid trace event JSON: every complete event is named, categorised and timed.
  std::ifstream f(trace);
  const nlohmann::json j = nlohmann::json::parse(f);
  ASSERT_TRUE(j.at("traceEvents").is_array());
  std::set<std::string> ops, backward, layers;
  std::map<std::string, int> phases;
  for (const nlohmann::json& e : j.at("traceEvents")) {
    ASSERT_TRUE(e.at("ph").is_string() && e.at("name").is_string() && e.at("pid").is_number_integer()) << e.dump();
    if (e.at("ph") != "X") continue;
    ASSERT_TRUE(e.at("cat").is_string() && e.at("tid").is_number_integer()) << e.dump();
    ASSERT_TRUE(e.at("ts").is_number() && e.at("dur").is_number() && e.at("dur").get<double>() >= 0) << e.dump();
    const std::string cat = e.at("cat"), name = e.at("name");
    if (cat == "op") ops.insert(name);
    if (cat == "backward") backward.insert(name);
    if (cat == "layer") layers.insert(name);
    if (cat == "phase") ++phases[name];
  }
  fs::remove_all(dir);
  // EMRRG's own ops, forward and backward: the encoder's Mamba, the LLM's attention, rotary and
  // SwiGLU, the hybrid layers' gated cross-attention, the loss.
  for (const char* op : {"selective_scan", "causal_conv1d", "attention", "gated_cross_attention", "rotary", "swiglu",
                         "rms_norm", "layer_norm", "matmul", "cross_entropy"}) {
    EXPECT_TRUE(ops.count(op)) << op;
    EXPECT_TRUE(backward.count(op)) << op << " (backward)";
  }
  EXPECT_TRUE(layers.count("MambaMixer") && layers.count("Linear"));
  EXPECT_FALSE(ops.count("softplus")) << "the stage-1 encoder pre-training was traced";
  EXPECT_EQ(phases, (std::map<std::string, int>{{"forward", 2}, {"backward", 2}, {"optimizer", 2}}));
}

TEST(ProfileCli, EncodeTracesTheWholeRun) {
  const std::string dir = std::string(EMRRG_FIXTURES_DIR) + "/encode/";
  const fs::path trace = fs::temp_directory_path() / "emrrg_profile_cli_encode.json";
  const fs::path out = fs::temp_directory_path() / "emrrg_profile_cli_features.safetensors";
  const CliRun r = run_emrrg("encode --config " + dir + "vim_tiny.toml --random-init --out " + out.string() +
                          " --profile " + trace.string() + " " + dir + "phantom_a.png");
  fs::remove(out);
  ASSERT_EQ(r.rc, 0) << r.stderr_text;
  const std::set<std::string> ops = complete_event_names(trace, "op");
  const std::set<std::string> layers = complete_event_names(trace, "layer");
  fs::remove(trace);
  EXPECT_TRUE(ops.count("selective_scan") && ops.count("causal_conv1d") && ops.count("rms_norm"));
  EXPECT_TRUE(layers.count("MambaMixer") && layers.count("Linear"));
}

TEST(ProfileCli, AnUnwritableTraceIsAClearError) {
  const CliRun r = run_emrrg("demo-mlp --steps 3 --hidden 8 --profile /nonexistent-dir/t.json --profile-warmup 0");
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.stderr_text.find("cannot write the trace /nonexistent-dir/t.json"), std::string::npos) << r.stderr_text;
}

}  // namespace
}  // namespace emrrg
