#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "autograd/tape.h"
#include "train/mlp_demo.h"

namespace emrrg {
namespace {

TEST(MlpDemo, LossFallsAndTheSpiralIsLearned) {
  train::MlpDemoOptions o;
  o.steps = 200;
  std::ostringstream log;
  train::MlpDemoResult r = train::run_mlp_demo(o, log);
  ASSERT_EQ(r.losses.size(), 200u);
  EXPECT_NEAR(r.losses.front(), std::log(3.0), 0.3);  // near chance at the start
  EXPECT_LT(r.losses.back(), 0.5 * r.losses.front());
  EXPECT_GT(r.accuracy, 0.8);  // a linear model gets about a third of a three-arm spiral
  EXPECT_NE(log.str().find("eta"), std::string::npos);
  EXPECT_EQ(autograd::tape_size(), 0u);
}

TEST(MlpDemo, SameSeedSameLosses) {
  train::MlpDemoOptions o;
  o.steps = 20;
  std::ostringstream log;
  EXPECT_EQ(train::run_mlp_demo(o, log).losses, train::run_mlp_demo(o, log).losses);
}

}  // namespace
}  // namespace emrrg
