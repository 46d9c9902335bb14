// Every __global__ kernel in cuda/ must be exercised by a simulator test: this lists the
// kernels in the sources and fails for any whose name no tests/sim/test_*.cpp mentions. It also
// holds docs/KERNELS.md's coverage table (kernel -> roofline row -> PyTorch anchor) to the sources.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

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

// docs/KERNELS.md's coverage table: | `kernel`, ... (file) | `roofline row`, ... | anchor |.
struct CoverageRow {
  std::vector<std::string> kernels, rows;
  std::string anchor;
};

std::vector<std::string> backticked(const std::string& cell) {
  std::vector<std::string> out;
  for (size_t a = cell.find('`'); a != std::string::npos; a = cell.find('`', a + 1)) {
    const size_t b = cell.find('`', a + 1);
    if (b == std::string::npos) break;
    out.push_back(cell.substr(a + 1, b - a - 1));
    a = b;
  }
  return out;
}

std::vector<CoverageRow> coverage_table() {
  std::istringstream doc(read(source_dir / "docs" / "KERNELS.md"));
  std::vector<CoverageRow> table;
  bool in_table = false;
  for (std::string line; std::getline(doc, line);) {
    if (line.rfind("| kernel (cuda/kernels/) |", 0) == 0) in_table = true;
    if (!in_table) continue;
    if (line.rfind("|", 0) != 0) break;
    std::vector<std::string> cells;
    for (size_t a = 0, b; (b = line.find('|', a + 1)) != std::string::npos; a = b) cells.push_back(line.substr(a + 1, b - a - 1));
    if (cells.size() != 3 || cells[0].find('`') == std::string::npos) continue;  // the header and its rule
    const size_t text = cells[2].find_first_not_of(' ');
    CoverageRow row;
    row.kernels = backticked(cells[0]);
    row.rows = backticked(cells[1]);
    row.anchor = text == std::string::npos ? "" : cells[2].substr(text);
    table.push_back(row);
  }
  return table;
}

TEST(KernelCoverage, TheKernelsMdTableNamesEveryCudaKernel) {
  const std::vector<CoverageRow> table = coverage_table();
  ASSERT_GT(table.size(), 20u) << "the coverage table of docs/KERNELS.md was not found";
  std::set<std::string> listed;
  for (const CoverageRow& r : table) {
    EXPECT_FALSE(r.rows.empty()) << r.kernels.front() << " has no roofline row";
    listed.insert(r.kernels.begin(), r.kernels.end());
  }
  const std::set<std::string> kernels = kernels_in(source_dir / "cuda");
  for (const std::string& k : kernels) EXPECT_TRUE(listed.count(k)) << "kernel " << k << " is not in docs/KERNELS.md's table";
  for (const std::string& k : listed) EXPECT_TRUE(kernels.count(k)) << "docs/KERNELS.md lists " << k << ", no kernel in cuda/";
}

TEST(KernelCoverage, TheTablesRowsAreRooflineCasesAndItsAnchorsExist) {
  const std::string roofline = read(source_dir / "bench" / "roofline.cpp");
  const std::string anchors = read(source_dir / "scripts" / "gpu" / "torch_anchors.py");
  // A case's kernel column: a string literal there, or a literal plus "_backward" (the norms).
  auto is_case = [&](const std::string& row) {
    if (roofline.find('"' + row + '"') != std::string::npos) return true;
    const std::string suffix = "_backward";
    return row.size() > suffix.size() && row.compare(row.size() - suffix.size(), suffix.size(), suffix) == 0 &&
           roofline.find('"' + row.substr(0, row.size() - suffix.size()) + '"') != std::string::npos &&
           roofline.find("\"" + suffix + "\"") != std::string::npos;
  };
  // torch_anchors.py writes a key as "row | ..." or "row" + key.
  auto has_anchor = [&](const std::string& row) {
    return anchors.find('"' + row + " | ") != std::string::npos || anchors.find('"' + row + "\" + key") != std::string::npos;
  };
  for (const CoverageRow& r : coverage_table())
    for (const std::string& row : r.rows) {
      EXPECT_TRUE(is_case(row)) << "'" << row << "' (for " << r.kernels.front() << ") is not a case of bench/roofline.cpp";
      if (r.anchor.rfind("none", 0) != 0) {
        EXPECT_TRUE(has_anchor(row)) << "'" << row << "' has no anchor in scripts/gpu/torch_anchors.py";
      }
    }
}

}  // namespace
