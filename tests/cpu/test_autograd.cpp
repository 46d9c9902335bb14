// Semantics of the tape: accumulation, no-grad, reuse, and a tape that does not grow.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/ops.h"
#include "test_helpers.h"

namespace emrrg {
namespace {

TEST(Autograd, GradientsAccumulateUntilZeroed) {
  Tensor x = from_vector<float>({1, 2, 3}, {3});
  x.set_requires_grad();
  autograd::backward(sum(mul(x, x)));
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{2, 4, 6}));
  autograd::backward(sum(mul(x, 3.0)));
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{5, 7, 9}));
  x.impl()->grad.reset();
  autograd::backward(sum(x));
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{1, 1, 1}));
}

TEST(Autograd, ReusedTensorGetsTheSumOfGradients) {
  Tensor x = from_vector<double>({0.5, -1.0}, {2});
  x.set_requires_grad();
  Tensor y = exp(x);
  Tensor loss = sum(add(mul(y, y), mul(y, x)));  // y used three times, x twice
  autograd::backward(loss);
  std::vector<double> xv = x.to_vector<double>(), g = x.grad().to_vector<double>();
  for (int i = 0; i < 2; ++i) {
    const double e = std::exp(xv[i]);
    EXPECT_NEAR(g[i], 2 * e * e + e * xv[i] + e, 1e-12);
  }
}

// The ready hook (data parallelism's overlap): each leaf is reported once, as soon as its .grad
// is final, while the nodes before its first use are still to run, with the gradient a
// backward without the hook gives.
TEST(Autograd, ReadyHookReportsEachLeafOnceItsGradientIsFinal) {
  Tensor a = from_vector<double>({0.5, -1.0}, {2}), b = from_vector<double>({2.0, 0.25}, {2});
  Tensor unused = from_vector<double>({1.0}, {1});
  for (Tensor* t : {&a, &b, &unused}) t->set_requires_grad();
  // Tape: exp(b), then (.) * a, then sum: a's only use is after b's.
  const auto forward = [&] { return sum(mul(exp(b), a)); };
  autograd::backward(forward());
  const std::vector<double> want_a = a.grad().to_vector<double>(), want_b = b.grad().to_vector<double>();
  a.impl()->grad.reset();
  b.impl()->grad.reset();

  std::vector<uint64_t> reported;
  std::vector<size_t> nodes_left;
  autograd::backward(forward(), Tensor(), [&](const Tensor& leaf) {
    reported.push_back(leaf.id());
    nodes_left.push_back(autograd::tape_size());
    ASSERT_TRUE(leaf.grad().defined());
    EXPECT_EQ(leaf.grad().to_vector<double>(), leaf.id() == a.id() ? want_a : want_b);
  });
  EXPECT_EQ(reported, (std::vector<uint64_t>{a.id(), b.id()}));
  EXPECT_EQ(nodes_left, (std::vector<size_t>{1, 0}));  // a while exp(b) is still on the tape
  EXPECT_FALSE(unused.grad().defined());
}

TEST(Autograd, NoGradRecordsNothing) {
  Tensor x = testing::leaf64({4}, 1);
  {
    autograd::NoGradGuard guard;
    Tensor y = exp(x);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(autograd::tape_size(), 0u);
  }
  Tensor y = exp(x);
  EXPECT_TRUE(y.requires_grad());
  EXPECT_FALSE(y.is_leaf());
  EXPECT_EQ(autograd::tape_size(), 1u);
  autograd::clear_tape();
}

TEST(Autograd, OnlyLeavesThatRequireGradReceiveGradients) {
  Tensor a = testing::leaf64({3}, 2);
  Tensor b = testing::leaf64({3}, 3);
  b.set_requires_grad(false);
  Tensor mid = mul(a, b);
  autograd::backward(sum(mid));
  EXPECT_TRUE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  EXPECT_FALSE(mid.grad().defined());  // intermediate results keep no gradient
  EXPECT_EQ(autograd::tape_size(), 0u);
}

TEST(Autograd, DetachCutsTheGraph) {
  Tensor x = testing::leaf64({3}, 4);
  Tensor y = mul(detach(exp(x)), x);  // d/dx = exp(x) only, not exp(x)(1 + x)
  autograd::backward(sum(y));
  std::vector<double> xv = x.to_vector<double>(), g = x.grad().to_vector<double>();
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(g[i], std::exp(xv[i]), 1e-12);
}

TEST(Autograd, NonScalarBackwardNeedsAGradient) {
  Tensor x = testing::leaf64({3}, 5);
  Tensor y = mul(x, 2.0);
  EXPECT_THROW(autograd::backward(y), std::invalid_argument);
  autograd::backward(y, from_vector<double>({1, 0, -1}, {3}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 0, -2}));
}

TEST(Autograd, TapeDoesNotGrowOverThousandTrainingSteps) {
  Tensor w = testing::leaf64({4, 4}, 6);
  Tensor x = testing::leaf64({8, 4}, 7);
  x.set_requires_grad(false);
  for (int step = 0; step < 1000; ++step) {
    Tensor loss = mean(pow(tanh(matmul(x, w)), 2.0));
    autograd::backward(loss);
    ASSERT_EQ(autograd::tape_size(), 0u) << "step " << step;
    autograd::NoGradGuard guard;
    add_into(w, mul(w.grad(), -0.01));
    w.impl()->grad.reset();
  }
}

TEST(Autograd, FunctionInterfacePlugsInLikeAnyOp) {
  // A fused op: y = x * sigmoid(x) computed and differentiated in one Function.
  class FusedSilu : public autograd::Function {
   public:
    const char* name() const override { return "fused_silu"; }
    std::vector<Tensor> forward(const std::vector<Tensor>& in) override {
      x_ = in[0];
      return {mul(in[0], sigmoid(in[0]))};
    }
    std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
      Tensor s = sigmoid(x_);
      return {mul(g[0], mul(s, add(mul(mul(x_, sub(neg(s), -1.0)), 1.0), 1.0)))};
    }
    Tensor x_;
  };
  Tensor x = testing::leaf64({6}, 8);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) {
    return sum(autograd::Function::apply(std::make_shared<FusedSilu>(), in)[0]);
  }, {x});
}

}  // namespace
}  // namespace emrrg
