// Forward values against PyTorch (tests/fixtures/ops_golden.safetensors, written by
// tests/golden/make_ops_golden.py).
#include <gtest/gtest.h>

#include <cmath>

#include "ops/ops.h"
#include "runtime/safetensors.h"
#include "test_helpers.h"

namespace emrrg {
namespace {

class OpsGolden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    file_ = new SafetensorsFile(SafetensorsFile::open(std::string(EMRRG_FIXTURES_DIR) + "/ops_golden.safetensors"));
  }
  static void TearDownTestSuite() { delete file_; }
  static Tensor get(const std::string& name) { return file_->get(name); }
  static void expect_close(const Tensor& ours, const std::string& name, double tol) {
    Tensor ref = get(name);
    ASSERT_EQ(ours.shape(), ref.shape()) << name;
    const auto a = ours.to_vector<double>(), b = ref.to_vector<double>();
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], tol * (1 + std::abs(b[i]))) << name << " at " << i;
  }
  static SafetensorsFile* file_;
};
SafetensorsFile* OpsGolden::file_ = nullptr;

TEST_F(OpsGolden, Activations) {
  Tensor x = get("x");
  expect_close(gelu(x), "gelu", 1e-6);
  expect_close(gelu(x, GeluApproximation::Tanh), "gelu_tanh", 1e-6);
  expect_close(silu(x), "silu", 1e-6);
  expect_close(softplus(x), "softplus", 1e-6);
  expect_close(softplus(x, 2.0, 5.0), "softplus_beta2_thr5", 1e-6);
  expect_close(sigmoid(x), "sigmoid", 1e-6);
}

TEST_F(OpsGolden, SoftmaxVarianceCrossEntropy) {
  Tensor x = get("x");
  expect_close(softmax(x, 0), "softmax_dim0", 1e-6);
  expect_close(log_softmax(x, 1), "log_softmax_dim1", 1e-6);
  expect_close(var(x, {1}), "var_dim1", 1e-5);
  expect_close(var(x, {}, 0), "var_all_unbiased0", 1e-5);
  expect_close(cross_entropy(x, get("ce_target"), -100), "cross_entropy", 1e-6);
}

TEST_F(OpsGolden, Norms) {
  Tensor x = get("x");
  expect_close(layer_norm(x, get("ln_weight"), get("ln_bias"), 1e-5), "layer_norm", 1e-5);
  expect_close(rms_norm(x, get("ln_weight"), 1e-5), "rms_norm", 1e-6);
  // bfloat16: normalised values rounded to bf16 before the weight, as Hugging Face does.
  Tensor y = rms_norm(get("x_bf16"), convert(get("ln_weight"), DType::BFloat16), 1e-5);
  EXPECT_EQ(y.dtype(), DType::BFloat16);
  EXPECT_EQ(y.to_vector<double>(), get("rms_norm_bf16").to_vector<double>());
}

TEST_F(OpsGolden, PatchConvAndMatmul) {
  expect_close(patch_conv2d(get("img"), get("conv_w"), get("conv_b")), "patch_conv2d", 1e-5);
  expect_close(matmul(get("mm_a"), get("mm_b")), "matmul", 1e-6);
}

TEST_F(OpsGolden, HalfPrecisionRounding) {
  Tensor src = get("round_src");
  EXPECT_EQ(convert(src, DType::BFloat16).to_vector<double>(), get("round_bf16").to_vector<double>());
  EXPECT_EQ(convert(src, DType::Float16).to_vector<double>(), get("round_f16").to_vector<double>());
}

TEST(OpsForward, MatmulMatchesNaiveLoopsForAllLayouts) {
  const int64_t m = 37, k = 19, n = 23;
  Tensor a = testing::rand32({m, k}, 1), b = testing::rand32({k, n}, 2);
  const auto av = a.to_vector<float>(), bv = b.to_vector<float>();
  std::vector<double> ref(static_cast<size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t p = 0; p < k; ++p) ref[i * n + j] += double(av[i * k + p]) * bv[p * n + j];
  const Tensor at = contiguous(transpose(a, 0, 1)), bt = contiguous(transpose(b, 0, 1));
  for (const auto& [lhs, rhs] : std::vector<std::pair<Tensor, Tensor>>{
           {a, b}, {transpose(at, 0, 1), b}, {a, transpose(bt, 0, 1)}, {transpose(at, 0, 1), transpose(bt, 0, 1)},
           {slice(cat({a, a}, 1), 1, 0, k), b}}) {
    testing::expect_near_vectors(matmul(lhs, rhs).to_vector<double>(), ref, 1e-4);
  }
  // bfloat16 operands: computed in float32 and rounded once.
  Tensor c16 = matmul(convert(a, DType::BFloat16), convert(b, DType::BFloat16));
  EXPECT_EQ(c16.dtype(), DType::BFloat16);
  testing::expect_near_vectors(c16.to_vector<double>(), ref, 0.1);
}

TEST(OpsForward, ReductionsComparisonsAndIndexing) {
  Tensor x = from_vector<float>({1, 5, 3, 5, -2, 0}, {2, 3});
  EXPECT_EQ(sum(x).item(), 12);
  EXPECT_EQ(sum(x, {0}).to_vector<float>(), (std::vector<float>{6, 3, 3}));
  EXPECT_EQ(mean(x, {1}, true).shape(), (Shape{2, 1}));
  EXPECT_EQ(max(x, 1).to_vector<float>(), (std::vector<float>{5, 5}));
  EXPECT_EQ(argmax(x, 1).to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));  // first of equal maxima
  EXPECT_EQ(gt(x, 2.0).to_vector<bool>(), (std::vector<bool>{false, true, true, true, false, false}));
  EXPECT_EQ(eq(x, from_vector<float>({5}, {1})).to_vector<bool>(),
            (std::vector<bool>{false, true, false, true, false, false}));
  EXPECT_EQ(masked_fill(x, lt(x, 1.0), -9).to_vector<float>(), (std::vector<float>{1, 5, 3, 5, -9, -9}));
  EXPECT_EQ(clamp(x, 0, 4).to_vector<float>(), (std::vector<float>{1, 4, 3, 4, 0, 0}));
  EXPECT_EQ(index_select(x, 1, from_vector<int64_t>({2, 0}, {2})).to_vector<float>(),
            (std::vector<float>{3, 1, 0, 5}));
  EXPECT_THROW(index_select(x, 1, from_vector<int64_t>({3}, {1})), std::invalid_argument);
  EXPECT_THROW(embedding(x, from_vector<int64_t>({-1}, {1})), std::invalid_argument);
  EXPECT_THROW(cross_entropy(x, from_vector<int64_t>({3, 0}, {2})), std::invalid_argument);
  EXPECT_TRUE(std::isnan(cross_entropy(x, from_vector<int64_t>({-100, -100}, {2})).item()));
  auto parts = chunk(from_vector<float>({0, 1, 2, 3, 4}, {5}), 3, 0);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[2].to_vector<float>(), (std::vector<float>{4}));
}

TEST(OpsForward, DropoutKeepsExpectationAndIsReproducible) {
  Tensor x = ones({100000});
  Generator g1(9), g2(9);
  Tensor a = dropout(x, 0.25, true, g1), b = dropout(x, 0.25, true, g2);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  EXPECT_NEAR(mean(a).item(), 1.0, 0.01);
  for (float v : a.to_vector<float>()) ASSERT_TRUE(v == 0.0f || std::abs(v - 4.0f / 3.0f) < 1e-6);
  EXPECT_EQ(dropout(x, 0.25, false).impl(), x.impl());
}

}  // namespace
}  // namespace emrrg
