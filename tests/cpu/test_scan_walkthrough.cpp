// The tour's hand-checkable example (docs/mamba/03-step-through.md): the numbers the page shows
// are what `emrrg scan-walkthrough` prints, and the program's formulas agree with selective_scan
// (scan_walkthrough_text throws when they do not; a changed example must fail here).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "ops/selective_scan.h"
#include "train/scan_walkthrough.h"

namespace emrrg {
namespace {

constexpr const char* kBegin = "<!-- scan-walkthrough output: begin -->\n```text\n";
constexpr const char* kEnd = "```\n<!-- scan-walkthrough output: end -->";

std::string page_block() {
  std::ifstream in(std::string(EMRRG_DOCS_DIR) + "/mamba/03-step-through.md");
  EXPECT_TRUE(in) << "docs/mamba/03-step-through.md is missing";
  std::stringstream s;
  s << in.rdbuf();
  const std::string page = s.str();
  const size_t begin = page.find(kBegin), end = page.find(kEnd);
  EXPECT_NE(begin, std::string::npos) << "the page lacks the begin marker";
  EXPECT_NE(end, std::string::npos) << "the page lacks the end marker";
  if (begin == std::string::npos || end == std::string::npos || end < begin) return {};
  return page.substr(begin + std::string(kBegin).size(), end - begin - std::string(kBegin).size());
}

std::string program_output() {
  FILE* pipe = ::popen((std::string(EMRRG_BINARY) + " scan-walkthrough").c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; pipe && (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  EXPECT_EQ(pipe ? ::pclose(pipe) : -1, 0);
  return out;
}

TEST(ScanWalkthrough, ThePageShowsWhatTheProgramPrints) {
  const std::string text = train::scan_walkthrough_text(train::tour_example());
  EXPECT_EQ(page_block(), text);
  EXPECT_EQ(program_output(), text);
}

TEST(ScanWalkthrough, HandValuesOfTheExample) {
  // h_3 = 0.0625 (the carry into chunk 1), h_7 = 3.001953125, dh_0 = 1.7890625: binary fractions.
  const std::string text = train::scan_walkthrough_text(train::tour_example());
  EXPECT_NE(text.find("chunk 1 (t = 4..7), carried in: h_in = 0.062500"), std::string::npos);
  EXPECT_NE(text.find("chunk 0, carried in: a_4 dh_4 = 0.625000"), std::string::npos);
  EXPECT_NE(text.find("t = 0: (Q_a, Q_b) = (0.062500, 1.750000), dh_t = 1.789062"), std::string::npos);
}

TEST(ScanWalkthrough, MismatchedLengthsAreRefused) {
  train::ScanWalkthrough e = train::tour_example();
  e.u.pop_back();
  EXPECT_THROW(train::scan_walkthrough_text(e), std::invalid_argument);
}

// docs/mamba/01-ssm.md: with a constant input the continuous system h' = A h + B u from h(0) = 0
// reaches h(T) = (exp(A T) - 1) / A * B u. Mamba's discretisation (exp(delta A), delta B u), run
// as selective_scan with K steps of delta = T / K, converges to it with an error of order delta.
TEST(TourFormulas, DiscretisationConvergesToTheContinuousSystem) {
  const double A = -1.5, T = 2.0, Bu = 0.8;
  const double exact = (std::exp(A * T) - 1) / A * Bu;
  double previous_error = 0;
  for (int64_t K : {16, 32, 64, 128}) {
    const double dt = T / static_cast<double>(K);
    const Tensor u = from_vector(std::vector<double>(K, Bu), {1, 1, K}, DType::Float64);
    const Tensor delta = from_vector(std::vector<double>(K, dt), {1, 1, K}, DType::Float64);
    const Tensor ones = from_vector(std::vector<double>(K, 1.0), {1, 1, K}, DType::Float64);
    const Tensor a = from_vector(std::vector<double>{A}, {1, 1}, DType::Float64);
    const double hT = selective_scan(u, delta, a, ones, ones, Tensor(), Tensor(), Tensor(), false)
                          .out.to_vector<double>()
                          .back();
    const double error = std::fabs(hT - exact);
    EXPECT_LT(error, dt) << "K = " << K;
    if (previous_error > 0) {
      EXPECT_GT(previous_error / error, 1.8) << "K = " << K;  // first order: halving delta halves the error
      EXPECT_LT(previous_error / error, 2.2) << "K = " << K;
    }
    previous_error = error;
  }
}

}  // namespace
}  // namespace emrrg
