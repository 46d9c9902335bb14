// --profile on the emrrg subcommands: the program writes a valid trace of the traced steps and
// prints the summary table (stderr).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <unistd.h>

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
