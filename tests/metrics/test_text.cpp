#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "train/metrics/text.h"
#include "train/metrics/utf8.h"

namespace emrrg::metrics {
namespace {

TEST(Text, SplitWhitespaceLikePython) {
  EXPECT_EQ(split_whitespace("  a \t b\n\xC2\xA0" "c  "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(split_whitespace("").empty());
  EXPECT_TRUE(split_whitespace(" \t ").empty());
}

TEST(Text, SplitOnSpaceKeepsEmptyTokens) {
  EXPECT_EQ(split_on_space("a  b"), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split_on_space(""), (std::vector<std::string>{""}));
  EXPECT_EQ(split_on_space(" a "), (std::vector<std::string>{"", "a", ""}));
}

TEST(Text, StripReplaceLower) {
  EXPECT_EQ(strip(" \t x y \n"), "x y");
  EXPECT_EQ(strip("   "), "");
  EXPECT_EQ(replace_all("a...b", "..", "."), "a..b");
  EXPECT_EQ(replace_all("----", "--", "-"), "--");
  EXPECT_EQ(to_lower("Heart \xC3\x89" "DEMA \xD0\x9F"), "heart \xC3\xA9" "dema \xD0\xBF");
}

TEST(Text, Utf8Validation) {
  EXPECT_FALSE(find_invalid_utf8("plain \xE2\x80\x9C ok").has_value());
  EXPECT_EQ(find_invalid_utf8("ab\xFF"), 2u);
  EXPECT_EQ(find_invalid_utf8("a\xC0\x80"), 1u);        // overlong
  EXPECT_EQ(find_invalid_utf8("a\xED\xA0\x80"), 1u);    // surrogate
  EXPECT_EQ(find_invalid_utf8("abc\xE2\x80"), 3u);      // truncated
  EXPECT_EQ(u32_to_utf8(utf8_to_u32("x\xE2\x80\x93y")), "x\xE2\x80\x93y");
}

TEST(Text, NumpyMeanIsPairwise) {
  std::vector<double> v(1000);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.1 * static_cast<double>(i % 7);
  double naive = 0;
  for (double x : v) naive += x;
  EXPECT_NEAR(numpy_mean(v), naive / 1000, 1e-12);
  EXPECT_TRUE(std::isnan(numpy_mean(std::vector<double>{})));
}

}  // namespace
}  // namespace emrrg::metrics
