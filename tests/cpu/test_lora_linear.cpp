// lora_linear: float64 gradients (with and without bias, full and partial row ranges, strided
// operands, dropout at either site with a fixed Philox stream), equality with the formula
// composed from linear() and dropout() on the same mask, the frozen base, a bf16 base with
// float32 adapters, argument errors, and PyTorch's values (tests/golden/make_emrrg_ops_golden.py).
#include <gtest/gtest.h>

#include "ops/ops.h"
#include "runtime/safetensors.h"
#include "test_helpers.h"

namespace emrrg {
namespace {
using testing::expect_all_near;
using testing::leaf64;
using testing::values;
using V = std::vector<Tensor>;

Tensor frozen(const Shape& shape, uint64_t seed, DType dt) {
  Tensor t = convert(testing::rand32(shape, seed), dt);
  t.set_requires_grad(false);
  return t;
}

Tensor trainable(const Shape& shape, uint64_t seed, DType dt) {
  Tensor t = convert(testing::rand32(shape, seed), dt);
  t.set_requires_grad(true);
  return t;
}

// The adapter's output placed in rows [row0, row0 + rows) of `out`: lora_b padded with zero rows
// by a 0/1 matrix, differentiably.
Tensor padded_b(const Tensor& b, int64_t row0, int64_t out) {
  const int64_t rows = b.size(0);
  std::vector<double> e(static_cast<size_t>(out * rows), 0.0);
  for (int64_t i = 0; i < rows; ++i) e[(row0 + i) * rows + i] = 1.0;
  return matmul(from_vector(e, {out, rows}, b.dtype()), b);  // [out, r]
}

// y = linear(x, W, bias) + s * linear(linear(drop(x), A) [dropped at the rank site], B_padded),
// drawing the mask with dropout() from `gen`.
Tensor composed(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& a, const Tensor& b, double s,
                const LoraLinearOptions& o, Generator& gen) {
  const bool input_site = o.dropout_site == LoraDropoutSite::Input;
  Tensor h = linear(input_site ? dropout(x, o.dropout, o.training, gen) : x, a);
  if (!input_site) h = dropout(h, o.dropout, o.training, gen);
  return add(linear(x, w, bias), mul(linear(h, padded_b(b, o.row0, w.size(0))), s));
}

TEST(LoraLinear, Gradcheck) {
  const Tensor w = frozen({7, 5}, 1, DType::Float64);
  struct Case {
    bool bias;
    int64_t row0, rows;
  };
  for (const Case& c : {Case{true, 0, 7}, Case{false, 0, 7}, Case{true, 2, 3}, Case{false, 4, 3}}) {
    SCOPED_TRACE(::testing::Message() << "bias " << c.bias << " rows [" << c.row0 << ", " << c.row0 + c.rows << ")");
    V in{leaf64({2, 3, 5}, 2), leaf64({3, 5}, 3), leaf64({c.rows, 3}, 4)};
    if (c.bias) in.push_back(leaf64({7}, 5));
    LoraLinearOptions o;
    o.row0 = c.row0;
    EXPECT_GRADCHECK([&](const V& x) { return lora_linear(x[0], w, c.bias ? x[3] : Tensor(), x[1], x[2], 0.7, o); },
                     in);
  }
}

TEST(LoraLinear, GradcheckStridedOperands) {
  // x a transposed view and W, A stored transposed (BLAS transpose flags); B a strided slice
  // that no BLAS layout fits (copied once).
  const Tensor wt = frozen({5, 7}, 6, DType::Float64);
  V in{leaf64({5, 4}, 7), leaf64({5, 3}, 8), leaf64({7, 6}, 9), leaf64({7}, 10)};
  EXPECT_GRADCHECK(
      [&](const V& x) {
        return lora_linear(transpose(x[0], 0, 1), transpose(wt, 0, 1), x[3], transpose(x[1], 0, 1),
                           slice(x[2], 1, 0, 6, 2), 1.3);
      },
      in);
}

TEST(LoraLinear, GradcheckWithDropoutAtEitherSite) {
  // A generator made afresh for every evaluation draws the same mask each time.
  const Tensor w = frozen({6, 4}, 11, DType::Float64);
  for (LoraDropoutSite site : {LoraDropoutSite::Input, LoraDropoutSite::Rank}) {
    SCOPED_TRACE(site == LoraDropoutSite::Input ? "input" : "rank");
    V in{leaf64({5, 4}, 12), leaf64({3, 4}, 13), leaf64({4, 3}, 14), leaf64({6}, 15)};
    EXPECT_GRADCHECK(
        [&](const V& x) {
          Generator gen(77, 5);
          LoraLinearOptions o{1, 0.4, site, true, &gen};
          return lora_linear(x[0], w, x[3], x[1], x[2], 0.9, o);
        },
        in);
  }
}

TEST(LoraLinear, EqualsTheComposedFormulaWithTheSameDropoutMask) {
  for (LoraDropoutSite site : {LoraDropoutSite::Input, LoraDropoutSite::Rank}) {
    for (int64_t row0 : {int64_t{0}, int64_t{24}}) {
      SCOPED_TRACE(::testing::Message() << (site == LoraDropoutSite::Input ? "input" : "rank") << " row0 " << row0);
      const int64_t out = 64, in_features = 48, r = 8, rows = row0 == 0 ? out : 16;
      const Tensor w = frozen({out, in_features}, 20, DType::Float32), bias = trainable({out}, 21, DType::Float32);
      const V ours_in{trainable({3, 10, in_features}, 22, DType::Float32),
                      trainable({r, in_features}, 23, DType::Float32), trainable({rows, r}, 24, DType::Float32)};
      V ref_in;
      for (const Tensor& t : ours_in) ref_in.push_back(trainable(t.shape(), 0, DType::Float32));
      for (size_t i = 0; i < ours_in.size(); ++i) copy_into(ref_in[i], ours_in[i]);
      Tensor ref_bias = trainable({out}, 0, DType::Float32);
      copy_into(ref_bias, bias);

      Generator g1(99, 3), g2(99, 3);
      const LoraLinearOptions o{row0, 0.3, site, true, &g1};
      const Tensor y = lora_linear(ours_in[0], w, bias, ours_in[1], ours_in[2], 0.5, o);
      const Tensor weights = testing::rand32(y.shape(), 25);
      autograd::backward(y, weights);  // one graph at a time: backward consumes the whole tape
      const Tensor ref = composed(ref_in[0], w, ref_bias, ref_in[1], ref_in[2], 0.5, o, g2);
      autograd::backward(ref, weights);
      EXPECT_EQ(g1.offset(), g2.offset());  // one draw each
      expect_all_near(y, ref, 1e-5, "y");
      for (size_t i = 0; i < ours_in.size(); ++i)
        expect_all_near(ours_in[i].grad(), ref_in[i].grad(), 1e-4, "grad " + std::to_string(i));
      expect_all_near(bias.grad(), ref_bias.grad(), 1e-4, "bias grad");
      EXPECT_FALSE(w.grad().defined());
    }
  }
}

TEST(LoraLinear, AnInputWithoutGradGetsNone) {
  // Only the adapter trains (x a data batch, say): dA and dB as in the composition, no dx.
  const Tensor x = testing::rand32({6, 8}, 26), w = frozen({10, 8}, 27, DType::Float32);
  const V ad{trainable({3, 8}, 28, DType::Float32), trainable({10, 3}, 29, DType::Float32)};
  V ref{trainable({3, 8}, 0, DType::Float32), trainable({10, 3}, 0, DType::Float32)};
  copy_into(ref[0], ad[0]);
  copy_into(ref[1], ad[1]);
  Generator g1(5, 0), g2(5, 0);
  const LoraLinearOptions o{0, 0.25, LoraDropoutSite::Input, true, &g1};
  autograd::backward(sum(lora_linear(x, w, Tensor(), ad[0], ad[1], 1.5, o)));
  autograd::backward(sum(composed(x, w, Tensor(), ref[0], ref[1], 1.5, o, g2)));
  EXPECT_FALSE(x.grad().defined());
  for (int i = 0; i < 2; ++i) expect_all_near(ad[i].grad(), ref[i].grad(), 1e-5, "adapter grad");
}

TEST(LoraLinear, DropoutOnlyInTraining) {
  const Tensor x = testing::rand32({4, 6}, 30), w = frozen({5, 6}, 31, DType::Float32);
  const Tensor a = testing::rand32({2, 6}, 32), b = testing::rand32({5, 2}, 33);
  Generator gen(1, 0);
  const LoraLinearOptions eval{0, 0.5, LoraDropoutSite::Input, false, &gen};
  EXPECT_EQ(values(lora_linear(x, w, Tensor(), a, b, 2.0, eval)), values(lora_linear(x, w, Tensor(), a, b, 2.0)));
  EXPECT_EQ(gen.offset(), 0u);
  LoraLinearOptions train = eval;
  train.training = true;
  EXPECT_NE(values(lora_linear(x, w, Tensor(), a, b, 2.0, train)), values(lora_linear(x, w, Tensor(), a, b, 2.0)));
  EXPECT_EQ(gen.offset(), 1u);
}

TEST(LoraLinear, BFloat16BaseWithFloat32Adapter) {
  // x, W, bias in bf16 and A, B in float32: the float32 computation on the bf16 values, rounded
  // once; gradients of A and B in float32, of x in bf16.
  const Tensor w = frozen({32, 40}, 40, DType::BFloat16);
  Tensor x = trainable({2, 9, 40}, 41, DType::BFloat16);
  const Tensor bias = frozen({32}, 42, DType::BFloat16);
  V ad{trainable({4, 40}, 43, DType::Float32), trainable({32, 4}, 44, DType::Float32)};
  const Tensor y = lora_linear(x, w, bias, ad[0], ad[1], 0.25);
  EXPECT_EQ(y.dtype(), DType::BFloat16);
  const Tensor gy = testing::rand32(y.shape(), 45);
  autograd::backward(y, convert(gy, DType::BFloat16));
  Tensor x32 = trainable(x.shape(), 0, DType::Float32);
  copy_into(x32, x);
  V ad32{trainable(ad[0].shape(), 0, DType::Float32), trainable(ad[1].shape(), 0, DType::Float32)};
  copy_into(ad32[0], ad[0]);
  copy_into(ad32[1], ad[1]);
  const Tensor ref =
      lora_linear(x32, convert(w, DType::Float32), convert(bias, DType::Float32), ad32[0], ad32[1], 0.25);
  autograd::backward(ref, convert(convert(gy, DType::BFloat16), DType::Float32));
  expect_all_near(y, ref, 2e-2, "y");  // one bf16 rounding of |y| < 4
  EXPECT_EQ(x.grad().dtype(), DType::BFloat16);
  EXPECT_EQ(ad[0].grad().dtype(), DType::Float32);
  expect_all_near(x.grad(), x32.grad(), 2e-2, "dx");
  for (int i = 0; i < 2; ++i) expect_all_near(ad[i].grad(), ad32[i].grad(), 1e-5, "adapter grad");
}

TEST(LoraLinear, NoTokensGiveEmptyOutputAndZeroAdapterGradients) {
  Tensor x = trainable({0, 6}, 1, DType::Float32);
  const V ad{trainable({2, 6}, 2, DType::Float32), trainable({3, 2}, 3, DType::Float32)};
  LoraLinearOptions o;
  o.row0 = 2;
  const Tensor y = lora_linear(x, testing::rand32({5, 6}, 4), Tensor(), ad[0], ad[1], 1.0, o);
  EXPECT_EQ(y.shape(), (Shape{0, 5}));
  autograd::backward(y, zeros({0, 5}));
  EXPECT_EQ(x.grad().shape(), (Shape{0, 6}));
  EXPECT_EQ(values(ad[0].grad()), std::vector<double>(12, 0.0));
  EXPECT_EQ(values(ad[1].grad()), std::vector<double>(6, 0.0));
}

TEST(LoraLinear, BadArgumentsAreNamed) {
  const Tensor x = testing::rand32({3, 6}, 1), w = testing::rand32({5, 6}, 2);
  const Tensor a = testing::rand32({2, 6}, 3), b = testing::rand32({5, 2}, 4);
  EXPECT_NO_THROW(lora_linear(x, w, Tensor(), a, b, 1.0));
  auto throws = [](auto&& fn) {
    try {
      fn();
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("lora_linear"), std::string::npos) << e.what();
      return;
    }
    ADD_FAILURE() << "no error";
  };
  throws([&] { lora_linear(testing::rand32({3, 5}, 1), w, Tensor(), a, b, 1.0); });  // in 5 vs 6
  throws([&] { lora_linear(x, w, Tensor(), testing::rand32({2, 5}, 3), b, 1.0); });
  throws([&] { lora_linear(x, w, Tensor(), a, testing::rand32({5, 3}, 4), 1.0); });  // rank 3 vs 2
  throws([&] { lora_linear(x, w, testing::rand32({4}, 5), a, b, 1.0); });
  throws([&] { lora_linear(x, w, Tensor(), a, testing::rand32({3, 2}, 4), 1.0, {3}); });  // rows [3, 6) of 5
  throws([&] { lora_linear(x, w, Tensor(), a, b, 1.0, {-1}); });
  throws([&] { lora_linear(x, convert(w, DType::BFloat16), Tensor(), a, b, 1.0); });
  throws([&] { lora_linear(x, w, Tensor(), a, convert(b, DType::Float64), 1.0); });
  throws([&] { lora_linear(x, w, Tensor(), a, b, 1.0, {0, 1.5}); });
  Tensor trainable_w = testing::rand32({5, 6}, 2);
  trainable_w.set_requires_grad(true);
  throws([&] { lora_linear(x, trainable_w, Tensor(), a, b, 1.0); });  // the base is frozen
}

// -- against PyTorch (tests/fixtures/emrrg_ops_golden.safetensors): F.linear(x, W, b) plus
// s * F.linear(F.linear(x, A), B) added into the adapter's rows; forward and the gradients of
// sum(w * y) in x, A, B and bias.

TEST(LoraLinearGolden, IsThePyTorchFormula) {
  const SafetensorsFile file = SafetensorsFile::open(std::string(EMRRG_FIXTURES_DIR) + "/emrrg_ops_golden.safetensors");
  auto leaf = [&](const std::string& name) { return testing::leaf_copy(file.get(name)); };
  for (const std::string n : {"lora_full", "lora_partial"}) {
    SCOPED_TRACE(n);
    const Tensor w = file.get(n + "_weight");
    V in{leaf(n + "_x"), leaf(n + "_a"), leaf(n + "_b"), leaf(n + "_bias")};
    LoraLinearOptions o;
    o.row0 = static_cast<int64_t>(values(file.get(n + "_row0"))[0]);
    const double s = values(file.get(n + "_scale"))[0];
    const Tensor y = lora_linear(in[0], w, in[3], in[1], in[2], s, o);
    expect_all_near(y, file.get(n + "_y"), 1e-5, n + "_y");
    autograd::backward(y, file.get(n + "_w"));
    const char* names[] = {"x", "a", "b", "bias"};
    for (int i = 0; i < 4; ++i) expect_all_near(in[i].grad(), file.get(n + "_grad_" + names[i]), 1e-4, names[i]);
  }
}

}  // namespace
}  // namespace emrrg
