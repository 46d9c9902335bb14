// Line reading for the CLI, and the all-metrics entry point on NOTES.md's report vectors.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "tests/metrics/public_vectors.h"
#include "train/metrics/report_io.h"
#include "train/metrics/report_metrics.h"

namespace emrrg::metrics {
namespace {

TEST(ReportIo, SplitsLinesAndKeepsEmptyOnes) {
  EXPECT_EQ(split_report_lines("a\r\n\nb", "x"), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split_report_lines("a\n", "x"), (std::vector<std::string>{"a"}));
  EXPECT_TRUE(split_report_lines("", "x").empty());
}

TEST(ReportIo, InvalidUtf8NamesSourceLineAndByte) {
  try {
    split_report_lines("ok\nab\xFF" "c\n", "hyps.txt");
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "hyps.txt:2: invalid UTF-8 at byte 3 (0xFF)");
  }
}

TEST(ReportIo, MissingFile) { EXPECT_THROW(read_report_file("/nonexistent/refs.txt"), std::runtime_error); }

TEST(ReportMetrics, AllMetricsOnPublicVectors) {
  const auto m = compute_report_metrics(testing::kReportRefs, testing::kReportHyps);
  EXPECT_NEAR(m.bleu[3], 0.5816189357486082, 1e-9);
  EXPECT_NEAR(m.rouge_l, 0.6364653453449166, 1e-9);
  EXPECT_NEAR(m.cider, 5.077725327329148, 1e-9);
  EXPECT_NEAR(m.meteor, 0.35726427485691614, 1e-6);
  EXPECT_GT(m.ce.micro.f1, 0.0);
  EXPECT_THROW(compute_report_metrics(testing::kReportRefs, std::vector<std::string>{"a"}), std::invalid_argument);
}

}  // namespace
}  // namespace emrrg::metrics
