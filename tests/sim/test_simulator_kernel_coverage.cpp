// Every __global__ kernel in cuda/ must be exercised by a simulator test: this lists the
// kernels in the sources and fails for any whose name no tests/sim/test_*.cpp mentions.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Names declared as `__global__ [launch bounds, attributes] void name(` in the files under dir.
std::set<std::string> kernels_in(const fs::path& dir) {
  std::set<std::string> names;
  const std::regex kernel(R"(__global__\s+(?:__launch_bounds__\([^)]*\)\s+)?void\s+([A-Za-z_][A-Za-z0-9_]*)\s*\()");
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const std::string ext = entry.path().extension().string();
    if (ext != ".cu" && ext != ".cuh" && ext != ".h" && ext != ".cpp") continue;
    const std::string text = read(entry.path());
    for (std::sregex_iterator it(text.begin(), text.end(), kernel), end; it != end; ++it) names.insert((*it)[1]);
  }
  return names;
}

const fs::path source_dir = EMRRG_FIXTURES_DIR "/../..";

TEST(SimulatorCoverage, TheScannerFindsKernels) {
  // The simulator's own tests define kernels: the scanner must see them, or the check below
  // would pass vacuously.
  const auto found = kernels_in(source_dir / "tests" / "sim");
  EXPECT_TRUE(found.count("block_sum"));
  EXPECT_TRUE(found.count("write_one_past_the_end"));
}

TEST(SimulatorCoverage, EveryCudaKernelHasASimulatorTest) {
  std::string tests;
  for (const auto& entry : fs::directory_iterator(source_dir / "tests" / "sim"))
    if (entry.path().filename().string().rfind("test_", 0) == 0) tests += read(entry.path());
  for (const std::string& name : kernels_in(source_dir / "cuda")) {
    const std::regex word("\\b" + name + "\\b");
    EXPECT_TRUE(std::regex_search(tests, word)) << "kernel " << name << " in cuda/ has no test in tests/sim";
  }
}

}  // namespace
