#include "tests/fuzz/fuzz_util.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace emrrg::fuzz {

namespace fs = std::filesystem;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    path = (fs::path(base && *base ? base : "/tmp") / ("emrrg-fuzz-" + std::to_string(getpid()))).string();
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

const std::string& temp_dir() {
  static const TempDir dir;
  return dir.path;
}

std::string write_temp_file(const uint8_t* data, size_t size, const std::string& name) {
  const std::string path = (fs::path(temp_dir()) / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

std::string fixture_path(const std::string& relative) { return std::string(EMRRG_FIXTURES_DIR) + "/" + relative; }

void expect_names(const std::exception& e, std::string_view name) {
  if (std::string_view(e.what()).find(name) != std::string_view::npos) return;
  std::fprintf(stderr, "fuzz: the error does not name '%.*s': %s\n", static_cast<int>(name.size()), name.data(),
               e.what());
  std::abort();
}

void touch(const Tensor& t) {
  const Tensor c = to_contiguous(t);
  const auto* bytes = static_cast<const unsigned char*>(c.raw_data());
  const size_t n = static_cast<size_t>(c.numel()) * c.element_size();
  unsigned sum = 0;
  for (size_t i = 0; i < n; ++i) sum += bytes[i];
  volatile unsigned sink = sum;
  (void)sink;
}

}  // namespace emrrg::fuzz
