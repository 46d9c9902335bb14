// Shared helpers of the data tests: a small phantom data set generated once per process, and
// scratch files.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "train/data/demo_data.h"
#include "train/data/tokenizer.h"

namespace emrrg::data::testing {

// Scratch space of this test process, removed when the tests end.
inline std::filesystem::path scratch_root() {
  return std::filesystem::path(::testing::TempDir()) / ("emrrg_data_" + std::to_string(::getpid()));
}

struct ScratchCleanup : ::testing::Environment {
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(scratch_root(), ec);
  }
};
inline ::testing::Environment* const kScratchCleanup = ::testing::AddGlobalTestEnvironment(new ScratchCleanup);

inline std::string scratch_dir(const std::string& name) {
  const auto dir = scratch_root() / name;
  std::filesystem::create_directories(dir);
  return dir.string();
}

inline void write_text(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// 20 studies (14 train, 2 val, 4 test) at 64 px, seed 5.
constexpr int kDemoStudies = 20;
constexpr int kDemoSize = 64;
inline const std::string& demo_dir() {
  static const std::string dir = [] {
    DemoDataConfig c;
    c.out_dir = scratch_dir("demo");
    c.n = kDemoStudies;
    c.size = kDemoSize;
    c.seed = 5;
    c.threads = 2;
    make_demo_data(c);
    return c.out_dir;
  }();
  return dir;
}

inline std::shared_ptr<const Tokenizer> llama2_tokenizer() {
  static const std::shared_ptr<const Tokenizer> tok = load_tokenizer(std::string(EMRRG_FIXTURES_DIR) + "/tokenizers/llama2.model");
  return tok;
}

}  // namespace emrrg::data::testing
