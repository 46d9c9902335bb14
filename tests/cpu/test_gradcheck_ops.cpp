// A float64 finite-difference gradient check for every differentiable op, including
// broadcasting and non-contiguous inputs.
#include <gtest/gtest.h>

#include "ops/ops.h"
#include "test_helpers.h"

namespace emrrg {
namespace {
using testing::leaf64;
using V = std::vector<Tensor>;

// Unary ops on a transposed (non-contiguous) input.
TEST(Gradcheck, UnaryOps) {
  const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&)>>> ops = {
      {"neg", [](const Tensor& x) { return neg(x); }},
      {"exp", [](const Tensor& x) { return exp(x); }},
      {"log", [](const Tensor& x) { return log(add(x, 2.0)); }},
      {"sqrt", [](const Tensor& x) { return sqrt(add(x, 2.0)); }},
      {"rsqrt", [](const Tensor& x) { return rsqrt(add(x, 2.0)); }},
      {"abs", [](const Tensor& x) { return abs(x); }},
      {"clamp", [](const Tensor& x) { return clamp(x, -0.5, 0.4); }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }},
      {"tanh", [](const Tensor& x) { return tanh(x); }},
      {"silu", [](const Tensor& x) { return silu(x); }},
      {"gelu", [](const Tensor& x) { return gelu(x); }},
      {"gelu_tanh", [](const Tensor& x) { return gelu(x, GeluApproximation::Tanh); }},
      {"softplus", [](const Tensor& x) { return softplus(mul(x, 3.0)); }},
      {"softplus_beta", [](const Tensor& x) { return softplus(x, 2.0, 1.0); }},
      {"pow_scalar", [](const Tensor& x) { return pow(add(x, 2.0), 2.5); }},
      {"add_scalar", [](const Tensor& x) { return add(x, 3.0); }},
      {"mul_scalar", [](const Tensor& x) { return mul(x, -1.5); }},
      {"div_scalar", [](const Tensor& x) { return div(x, 4.0); }},
  };
  for (const auto& [name, op] : ops) {
    SCOPED_TRACE(name);
    Tensor x = leaf64({3, 4}, 11);
    // An init-capture: clang 14 (the ThreadSanitizer build) cannot capture a structured binding.
    EXPECT_GRADCHECK([&op = op](const V& in) { return op(transpose(in[0], 0, 1)); }, {x});
  }
}

TEST(Gradcheck, BinaryOpsWithBroadcasting) {
  const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&, const Tensor&)>>> ops = {
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }},
      {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }},
      {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }},
      {"div", [](const Tensor& a, const Tensor& b) { return div(a, add(b, 3.0)); }},
      {"pow", [](const Tensor& a, const Tensor& b) { return pow(add(a, 2.0), b); }},
  };
  for (const auto& [name, op] : ops) {
    SCOPED_TRACE(name);
    Tensor a = leaf64({2, 3, 4}, 1), b = leaf64({3, 1}, 2);
    EXPECT_GRADCHECK([&op = op](const V& in) { return op(in[0], in[1]); }, {a, b});
    Tensor c = leaf64({4}, 3), d = leaf64({2, 1, 4}, 4);  // leading and size-1 broadcast on both sides
    EXPECT_GRADCHECK([&op = op](const V& in) { return op(in[0], in[1]); }, {c, d});
  }
}

TEST(Gradcheck, WhereAndMaskedFill) {
  Tensor a = leaf64({3, 4}, 5), b = leaf64({4}, 6);
  Tensor cond = gt(testing::rand32({3, 4}, 7), 0.0);
  EXPECT_GRADCHECK([&](const V& in) { return where(cond, in[0], in[1]); }, {a, b});
  Tensor mask = gt(testing::rand32({1, 4}, 8), 0.0);
  EXPECT_GRADCHECK([&](const V& in) { return masked_fill(in[0], mask, -7.0); }, {a});
}

TEST(Gradcheck, Reductions) {
  Tensor x = leaf64({3, 4, 5}, 9);
  EXPECT_GRADCHECK([](const V& in) { return sum(in[0]); }, {x});
  EXPECT_GRADCHECK([](const V& in) { return sum(in[0], {0, 2}, true); }, {x});
  EXPECT_GRADCHECK([](const V& in) { return mean(in[0], {1}); }, {x});
  EXPECT_GRADCHECK([](const V& in) { return mean(permute(in[0], {2, 0, 1}), {-1}); }, {x});
  EXPECT_GRADCHECK([](const V& in) { return var(in[0], {2}); }, {x});
  EXPECT_GRADCHECK([](const V& in) { return var(in[0], {0, 1}, 0, true); }, {x});
  EXPECT_GRADCHECK([](const V& in) { return max(in[0], 1); }, {x});
  EXPECT_GRADCHECK([](const V& in) { return max(transpose(in[0], 0, 2), -1, true); }, {x});
}

TEST(Gradcheck, MatmulBmmLinear) {
  Tensor a = leaf64({3, 4}, 10), b = leaf64({4, 5}, 11);
  EXPECT_GRADCHECK([](const V& in) { return matmul(in[0], in[1]); }, {a, b});
  // Transposed operands go to BLAS as flags.
  Tensor at = leaf64({4, 3}, 12), bt = leaf64({5, 4}, 13);
  EXPECT_GRADCHECK([](const V& in) { return matmul(transpose(in[0], 0, 1), transpose(in[1], 0, 1)); }, {at, bt});
  // Batch broadcasting and 1-D operands.
  Tensor ba = leaf64({2, 1, 3, 4}, 14), bb = leaf64({3, 4, 2}, 15), v = leaf64({4}, 16);
  EXPECT_GRADCHECK([](const V& in) { return matmul(in[0], in[1]); }, {ba, bb});
  EXPECT_GRADCHECK([](const V& in) { return matmul(in[0], in[1]); }, {v, bb});
  EXPECT_GRADCHECK([](const V& in) { return matmul(in[0], in[1]); }, {a, v});
  Tensor w1 = leaf64({4}, 41);
  EXPECT_GRADCHECK([](const V& in) { return matmul(in[0], in[1]); }, {v, w1});  // dot product: a scalar
  Tensor x = leaf64({2, 3, 4}, 17), y = leaf64({2, 4, 3}, 18);
  EXPECT_GRADCHECK([](const V& in) { return bmm(in[0], in[1]); }, {x, y});
  Tensor w = leaf64({5, 4}, 19), bias = leaf64({5}, 20);
  EXPECT_GRADCHECK([](const V& in) { return linear(in[0], in[1], in[2]); }, {x, w, bias});
  EXPECT_GRADCHECK([](const V& in) { return linear(slice(in[0], 1, 0, 3, 2), in[1]); }, {x, w});
}

TEST(Gradcheck, SoftmaxFamily) {
  Tensor x = leaf64({3, 5}, 21);
  EXPECT_GRADCHECK([](const V& in) { return softmax(in[0], -1); }, {x});
  EXPECT_GRADCHECK([](const V& in) { return softmax(in[0], 0); }, {x});
  EXPECT_GRADCHECK([](const V& in) { return log_softmax(in[0], 1); }, {x});
  EXPECT_GRADCHECK([](const V& in) { return log_softmax(transpose(in[0], 0, 1), 1); }, {x});
  Tensor target = from_vector<int64_t>({1, -100, 4}, {3});
  EXPECT_GRADCHECK([&](const V& in) { return cross_entropy(in[0], target); }, {x});
  Tensor logits3 = leaf64({2, 3, 4}, 22);
  Tensor target3 = from_vector<int64_t>({0, 3, 2, 1, -100, 3}, {2, 3});
  EXPECT_GRADCHECK([&](const V& in) { return cross_entropy(in[0], target3); }, {logits3});
}

TEST(Gradcheck, EmbeddingAndIndexing) {
  Tensor w = leaf64({6, 3}, 23);
  Tensor ids = from_vector<int64_t>({0, 5, 5, 2, 0, 1}, {2, 3});  // repeats: scatter-add
  EXPECT_GRADCHECK([&](const V& in) { return embedding(in[0], ids); }, {w});
  Tensor x = leaf64({4, 5}, 24);
  Tensor idx = from_vector<int64_t>({3, 0, 3}, {3});
  EXPECT_GRADCHECK([&](const V& in) { return index_select(in[0], 1, idx); }, {x});
  EXPECT_GRADCHECK([&](const V& in) { return index_select(transpose(in[0], 0, 1), 0, idx); }, {x});
  Tensor gidx = from_vector<int64_t>({0, 0, 4, 1, 2, 2, 3, 3}, {4, 2});
  EXPECT_GRADCHECK([&](const V& in) { return gather(in[0], 1, gidx); }, {x});
  Tensor gidx0 = from_vector<int32_t>({3, 0, 1, 1, 2}, {1, 5});
  EXPECT_GRADCHECK([&](const V& in) { return gather(in[0], 0, gidx0); }, {x});
}

TEST(Gradcheck, CatStackSplitChunk) {
  Tensor a = leaf64({2, 3}, 25), b = leaf64({2, 2}, 26), c = leaf64({2, 3}, 27);
  EXPECT_GRADCHECK([](const V& in) { return cat({in[0], in[1], in[2]}, 1); }, {a, b, c});
  EXPECT_GRADCHECK([](const V& in) { return stack({in[0], in[1]}, 0); }, {a, c});
  EXPECT_GRADCHECK([](const V& in) { return stack({in[0], transpose(transpose(in[1], 0, 1), 0, 1)}, 2); }, {a, c});
  Tensor x = leaf64({7, 2}, 28);
  EXPECT_GRADCHECK([](const V& in) {
    auto parts = split(in[0], 3, 0);  // sizes 3, 3, 1
    return cat({mul(parts[2], 2.0), parts[0], exp(parts[1])}, 0);
  }, {x});
  EXPECT_GRADCHECK([](const V& in) {
    auto parts = chunk(in[0], 2, 1);
    return mul(parts[0], parts[1]);
  }, {x});
}

TEST(Gradcheck, ViewOps) {
  Tensor x = leaf64({2, 3, 4}, 29);
  EXPECT_GRADCHECK([](const V& in) { return reshape(in[0], {4, -1}); }, {x});
  EXPECT_GRADCHECK([](const V& in) { return reshape(transpose(in[0], 1, 2), {8, 3}); }, {x});  // needs a copy
  EXPECT_GRADCHECK([](const V& in) { return flatten(in[0], 1); }, {x});
  EXPECT_GRADCHECK([](const V& in) { return permute(in[0], {2, 0, 1}); }, {x});
  EXPECT_GRADCHECK([](const V& in) { return slice(in[0], 2, 1, 4, 2); }, {x});
  EXPECT_GRADCHECK([](const V& in) { return narrow(in[0], 1, 1, 2); }, {x});
  EXPECT_GRADCHECK([](const V& in) { return select(in[0], 0, -1); }, {x});
  EXPECT_GRADCHECK([](const V& in) { return expand(slice(in[0], 1, 0, 1), {5, 2, 3, 4}); }, {x});
  EXPECT_GRADCHECK([](const V& in) { return unsqueeze(squeeze(unsqueeze(in[0], 1), 1), -1); }, {x});
  EXPECT_GRADCHECK([](const V& in) { return flip(in[0], {0, 2}); }, {x});
  EXPECT_GRADCHECK([](const V& in) { return contiguous(transpose(in[0], 0, 2)); }, {x});
  // Overlapping windows: every element appears in several outputs.
  EXPECT_GRADCHECK([](const V& in) { return as_strided(in[0], {5, 4}, {4, 1}, 2); }, {x});
  EXPECT_GRADCHECK([](const V& in) { return as_strided(in[0], {6, 3}, {3, 2}, 1); }, {x});
  EXPECT_GRADCHECK([](const V& in) { return cast(cast(in[0], DType::Float32), DType::Float64); },
                   {x}, autograd::GradcheckOptions{1e-3, 1e-4, 1e-3});
}

TEST(Gradcheck, Norms) {
  Tensor x = leaf64({3, 6}, 30), w = leaf64({6}, 31), b = leaf64({6}, 32);
  EXPECT_GRADCHECK([](const V& in) { return layer_norm(in[0], in[1], in[2]); }, {x, w, b});
  EXPECT_GRADCHECK([](const V& in) { return layer_norm(transpose(in[0], 0, 1), Tensor(), Tensor()); },
                   {leaf64({6, 3}, 33)});
  EXPECT_GRADCHECK([](const V& in) { return rms_norm(in[0], in[1], 1e-6); }, {x, w});
  EXPECT_GRADCHECK([](const V& in) { return rms_norm(permute(in[0], {1, 0}), in[1]); }, {leaf64({3, 2}, 34), leaf64({3}, 35)});
}

TEST(Gradcheck, PatchConv2d) {
  Tensor x = leaf64({2, 3, 5, 4}, 36);  // 5 rows: the last one does not fill a patch
  Tensor w = leaf64({4, 3, 2, 2}, 37), b = leaf64({4}, 38);
  EXPECT_GRADCHECK([](const V& in) { return patch_conv2d(in[0], in[1], in[2]); }, {x, w, b});
}

TEST(Gradcheck, Dropout) {
  Tensor x = leaf64({4, 8}, 39);
  // The same generator state each call gives the same mask, so the function is deterministic.
  EXPECT_GRADCHECK([](const V& in) {
    Generator gen(77);
    return dropout(in[0], 0.3, true, gen);
  }, {x});
}

TEST(Gradcheck, FailsOnAWrongGradient) {
  // A deliberately wrong backward must be caught: gradcheck itself can fail.
  class WrongSquare : public autograd::Function {
   public:
    const char* name() const override { return "wrong_square"; }
    std::vector<Tensor> forward(const std::vector<Tensor>& in) override {
      x_ = in[0];
      return {mul(in[0], in[0])};
    }
    std::vector<Tensor> backward(const std::vector<Tensor>& g) override { return {mul(g[0], x_)}; }  // missing 2x
    Tensor x_;
  };
  Tensor x = leaf64({5}, 40);
  auto result = autograd::gradcheck(
      [](const V& in) { return autograd::Function::apply(std::make_shared<WrongSquare>(), in)[0]; }, {x});
  EXPECT_FALSE(result.ok);
}

}  // namespace
}  // namespace emrrg
