#include <gtest/gtest.h>

#include <cmath>

#include "ops/ops.h"
#include "train/optimizer.h"

namespace emrrg {
namespace {

TEST(Optimizer, AdamWFirstStepMovesEachWeightByLr) {
  // With bias correction the first Adam step is lr * g / (|g| + eps'): about lr in size.
  Tensor p = from_vector<float>({1.0f, -2.0f, 3.0f}, {3});
  p.set_requires_grad();
  train::AdamW opt({p}, {0.1, 0.9, 0.999, 1e-8, 0.0});
  autograd::backward(sum(mul(p, from_vector<float>({2.0f, -0.5f, 1e-3f}, {3}))));
  opt.step();
  const auto v = p.to_vector<float>();
  EXPECT_NEAR(v[0], 0.9f, 1e-5);
  EXPECT_NEAR(v[1], -1.9f, 1e-5);
  EXPECT_NEAR(v[2], 2.9f, 1e-4);
}

TEST(Optimizer, AdamWDecouplesWeightDecayAndHonoursGroups) {
  Tensor decayed = from_vector<float>({2.0f}, {1}), plain = from_vector<float>({2.0f}, {1});
  decayed.set_requires_grad();
  plain.set_requires_grad();
  train::AdamW opt({decayed}, {0.1, 0.9, 0.999, 1e-8, 0.5});
  opt.add_param_group({plain}, 0.0);
  decayed.set_grad(zeros({1}));
  plain.set_grad(zeros({1}));
  opt.step();  // zero gradient: only decay moves the weight, p *= 1 - lr * wd
  EXPECT_FLOAT_EQ(decayed.to_vector<float>()[0], 2.0f * 0.95f);
  EXPECT_FLOAT_EQ(plain.to_vector<float>()[0], 2.0f);
}

TEST(Optimizer, UpdatesBfloat16ParametersInFloat32) {
  Tensor p = from_vector<float>({1.0f, 1.0f}, {2}, DType::BFloat16);
  p.set_requires_grad();
  train::SGD opt({p}, {0.5, 0, 0, 0, false});
  p.set_grad(from_vector<float>({1.0f, -1.0f}, {2}, DType::BFloat16));
  opt.step();
  EXPECT_EQ(p.dtype(), DType::BFloat16);
  EXPECT_EQ(p.to_vector<float>(), (std::vector<float>{0.5f, 1.5f}));
}

// 50 AdamW steps of about 1e-4 each on a bfloat16 1.0 (whose spacing below 1 is 2^-8): rounded
// into the parameter each one is lost; on a float32 master they add up to 0.995, which the
// parameter holds rounded (0.99609375).
TEST(Optimizer, AdamWMasterWeightsKeepUpdatesBelowBfloat16Rounding) {
  for (const bool master : {false, true}) {
    Tensor p = from_vector<float>({1.0f}, {1}, DType::BFloat16);
    p.set_requires_grad();
    train::AdamWOptions o{1e-4, 0.9, 0.999, 1e-8, 0.0};
    o.master_weights = master;
    train::AdamW opt({p}, o);
    for (int step = 0; step < 50; ++step) {
      p.set_grad(from_vector<float>({1.0f}, {1}, DType::BFloat16));
      opt.step();
    }
    EXPECT_EQ(p.dtype(), DType::BFloat16);
    ASSERT_EQ(opt.masters().size(), 1u);
    if (!master) {
      EXPECT_FALSE(opt.masters()[0].defined());
      EXPECT_EQ(p.to_vector<float>()[0], 1.0f);
      continue;
    }
    ASSERT_TRUE(opt.masters()[0].defined());
    EXPECT_EQ(opt.masters()[0].dtype(), DType::Float32);
    EXPECT_NEAR(opt.masters()[0].to_vector<float>()[0], 0.995f, 1e-5);
    EXPECT_EQ(p.to_vector<float>()[0], 0.99609375f);
    // Weights loaded into the parameter (a resume) become the master again.
    fill(p, 0.5);
    opt.reload_masters();
    EXPECT_EQ(opt.masters()[0].to_vector<float>()[0], 0.5f);
  }
}

// Float32 parameters never get a master copy.
TEST(Optimizer, AdamWMasterWeightsOnlyForHalfPrecisionParameters) {
  Tensor p = zeros({3});
  p.set_requires_grad();
  train::AdamWOptions o;
  o.master_weights = true;
  train::AdamW opt({p}, o);
  EXPECT_FALSE(opt.masters()[0].defined());
}

TEST(Optimizer, SkipsParametersWithoutGradientAndZeroGradClears) {
  Tensor a = from_vector<float>({1.0f}, {1}), b = from_vector<float>({1.0f}, {1});
  a.set_requires_grad();
  b.set_requires_grad();
  train::SGD opt({a, b}, {1.0, 0.9, 0, 0, false});
  a.set_grad(from_vector<float>({1.0f}, {1}));
  opt.step();
  EXPECT_EQ(a.to_vector<float>()[0], 0.0f);
  EXPECT_EQ(b.to_vector<float>()[0], 1.0f);
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  EXPECT_THROW(train::SGD({a}, {1.0, 0.0, 0, 0, true}), std::invalid_argument);
}

}  // namespace
}  // namespace emrrg
