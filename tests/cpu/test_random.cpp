#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "runtime/philox.h"
#include "runtime/random.h"
#include "runtime/threading.h"

namespace emrrg {
namespace {

// Known-answer vectors of the Random123 distribution (kat_vectors, philox4x32_10).
TEST(Philox, MatchesRandom123KnownAnswers) {
  struct Case {
    uint32_t ctr[4], key[2], out[4];
  };
  const Case cases[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Case& c : cases) {
    uint32_t out[4];
    philox4x32_10(c.ctr, c.key, out);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i], c.out[i]);
  }
}

TEST(Random, SameSeedSameNumbersAnyThreadCount) {
  const int saved = num_threads();
  set_num_threads(1);
  Generator g1(7);
  std::vector<float> a = randn({1000}, 0, 1, g1).to_vector<float>();
  set_num_threads(2);
  Generator g2(7);
  std::vector<float> b = randn({1000}, 0, 1, g2).to_vector<float>();
  set_num_threads(saved);
  EXPECT_EQ(a, b);
  // The next draw from the same generator differs (the offset advanced).
  EXPECT_NE(randn({1000}, 0, 1, g2).to_vector<float>(), b);
  Generator g3(8);
  EXPECT_NE(randn({1000}, 0, 1, g3).to_vector<float>(), a);
}

TEST(Random, DistributionsHaveTheRightMoments) {
  Generator gen(3);
  std::vector<float> u = rand_uniform({100000}, -2, 4, gen).to_vector<float>();
  double m = 0;
  for (float v : u) {
    ASSERT_GE(v, -2.0f);
    ASSERT_LT(v, 4.0f);
    m += v;
  }
  EXPECT_NEAR(m / u.size(), 1.0, 0.03);
  std::vector<float> n = randn({100000}, 1.5, 2.0, gen).to_vector<float>();
  double s = 0, s2 = 0;
  for (float v : n) {
    s += v;
    s2 += v * v;
  }
  const double mean = s / n.size(), var = s2 / n.size() - mean * mean;
  EXPECT_NEAR(mean, 1.5, 0.03);
  EXPECT_NEAR(std::sqrt(var), 2.0, 0.03);
  std::vector<bool> mask = bernoulli_mask({100000}, 0.3, gen).to_vector<bool>();
  EXPECT_NEAR(std::count(mask.begin(), mask.end(), true) / 100000.0, 0.3, 0.01);
}

TEST(Random, RandpermIsAPermutation) {
  Generator gen(5);
  std::vector<int64_t> p = randperm(1000, gen).to_vector<int64_t>();
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[i], i);
  int fixed = 0;
  for (int64_t i = 0; i < 1000; ++i) fixed += p[i] == i;
  EXPECT_LT(fixed, 10);  // a shuffled permutation has about one fixed point
  Generator again(5);
  EXPECT_EQ(randperm(1000, again).to_vector<int64_t>(), p);
}

}  // namespace
}  // namespace emrrg
