// The Mamba ops on the CPU: selective_scan and causal_conv1d against a direct transcription of
// their formulas, float64 gradcheck of every input (L crossing the scan's 64-step chunks),
// identical bits for any thread count, bfloat16/float16 I/O, and argument errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "ops/mamba_math.h"
#include "ops/ops.h"
#include "runtime/threading.h"
#include "test_helpers.h"

namespace emrrg {
namespace {
using testing::leaf64;
using V = std::vector<Tensor>;

TEST(SelectiveScan, DecayExpIsWithinTwoUlpOfExp) {
  double worst = 0;
  for (float x = -87.0f; x < 88.0f; x += 0.001953125f) {
    const double exact = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(mamba::decay_exp(x) - exact) / exact);
  }
  EXPECT_LT(worst, 2 * 5.96e-8) << "relative error";  // 2 ulp of float at 1
  EXPECT_EQ(mamba::decay_exp(-87.31f), 0.0f);
  EXPECT_EQ(mamba::decay_exp(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_EQ(mamba::decay_exp(std::numeric_limits<float>::infinity()), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(mamba::decay_exp(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(mamba::decay_exp(0.0f), 1.0f);
}

struct ScanShape {
  int64_t batch, dim, L, N;
};

struct ScanConfig {
  bool with_D, with_z, with_bias, softplus, four_d_BC;
};

// u, delta, A, B, C, D, z, delta_bias as float64 leaves (undefined where the config has none).
// softplus off needs positive deltas; A is negative as -exp(A_log) makes it.
V scan_inputs(const ScanShape& s, const ScanConfig& c, uint64_t seed) {
  const Shape bc = c.four_d_BC ? Shape{s.batch, 1, s.N, s.L} : Shape{s.batch, s.N, s.L};
  V in(8);
  in[0] = leaf64({s.batch, s.dim, s.L}, seed);
  in[1] = c.softplus ? leaf64({s.batch, s.dim, s.L}, seed + 1) : leaf64({s.batch, s.dim, s.L}, seed + 1, 0.1, 0.8);
  in[2] = leaf64({s.dim, s.N}, seed + 2, -1.5, -0.2);
  in[3] = leaf64(bc, seed + 3);
  in[4] = leaf64(bc, seed + 4);
  if (c.with_D) in[5] = leaf64({s.dim}, seed + 5);
  if (c.with_z) in[6] = leaf64({s.batch, s.dim, s.L}, seed + 6, -2.0, 2.0);
  if (c.with_bias) in[7] = leaf64({s.dim}, seed + 7, c.softplus ? -1.0 : 0.0, c.softplus ? 1.0 : 0.3);
  return in;
}

SelectiveScanResult scan(const V& in, bool softplus) {
  return selective_scan(in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], softplus);
}

// selective_scan_ref written out in double: {out [b, d, L], last_state [b, d, N]}.
std::pair<std::vector<double>, std::vector<double>> reference_scan(const ScanShape& s, const V& in, bool softplus) {
  const auto u = in[0].to_vector<double>(), delta = in[1].to_vector<double>(), A = in[2].to_vector<double>();
  const auto B = in[3].to_vector<double>(), C = in[4].to_vector<double>();
  const auto D = in[5].defined() ? in[5].to_vector<double>() : std::vector<double>();
  const auto z = in[6].defined() ? in[6].to_vector<double>() : std::vector<double>();
  const auto bias = in[7].defined() ? in[7].to_vector<double>() : std::vector<double>();
  std::vector<double> out(static_cast<size_t>(s.batch * s.dim * s.L)), last(static_cast<size_t>(s.batch * s.dim * s.N));
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t d = 0; d < s.dim; ++d) {
      std::vector<double> h(static_cast<size_t>(s.N), 0.0);
      for (int64_t t = 0; t < s.L; ++t) {
        const int64_t i = (b * s.dim + d) * s.L + t;
        double dt = delta[i] + (bias.empty() ? 0.0 : bias[d]);
        if (softplus && dt <= 20) dt = std::log1p(std::exp(dt));
        double y = 0;
        for (int64_t n = 0; n < s.N; ++n) {
          const int64_t j = (b * s.N + n) * s.L + t;
          h[n] = std::exp(dt * A[d * s.N + n]) * h[n] + dt * B[j] * u[i];
          y += h[n] * C[j];
        }
        if (!D.empty()) y += D[d] * u[i];
        if (!z.empty()) y *= z[i] / (1 + std::exp(-z[i]));
        out[i] = y;
      }
      for (int64_t n = 0; n < s.N; ++n) last[(b * s.dim + d) * s.N + n] = h[n];
    }
  return {out, last};
}

TEST(SelectiveScan, ForwardMatchesTheRecurrence) {
  for (const ScanConfig c : {ScanConfig{true, true, true, true, true}, ScanConfig{false, false, false, false, false},
                             ScanConfig{true, false, true, false, false}}) {
    for (int64_t L : {1, 7, 130}) {
      SCOPED_TRACE("L = " + std::to_string(L));
      const ScanShape s{2, 3, L, 4};
      const V in = scan_inputs(s, c, 100 + static_cast<uint64_t>(L));
      const auto [out, last] = reference_scan(s, in, c.softplus);
      SelectiveScanResult r = scan(in, c.softplus);
      ASSERT_EQ(r.out.shape(), (Shape{2, 3, L}));
      ASSERT_EQ(r.last_state.shape(), (Shape{2, 3, 4}));
      EXPECT_FALSE(r.last_state.requires_grad());
      testing::expect_near_vectors(r.out.to_vector<double>(), out, 1e-12);
      testing::expect_near_vectors(r.last_state.to_vector<double>(), last, 1e-12);
    }
  }
}

TEST(SelectiveScan, EmptySequence) {
  const V in = scan_inputs({2, 3, 0, 4}, {true, true, true, true, true}, 90);
  SelectiveScanResult r = scan(in, true);
  EXPECT_EQ(r.out.shape(), (Shape{2, 3, 0}));
  testing::expect_near_vectors(r.last_state.to_vector<double>(), std::vector<double>(24, 0.0), 0);
  autograd::backward(r.out, zeros({2, 3, 0}, DType::Float64));
  testing::expect_near_vectors(in[2].grad().to_vector<double>(), std::vector<double>(12, 0.0), 0);
  testing::expect_near_vectors(in[5].grad().to_vector<double>(), std::vector<double>(3, 0.0), 0);
  EXPECT_EQ(in[3].grad().shape(), (Shape{2, 1, 4, 0}));
}

TEST(SelectiveScan, SoftplusIsTheIdentityAboveTwenty) {
  const ScanShape s{1, 2, 5, 3};
  V in = scan_inputs(s, {false, false, true, true, false}, 7);
  in[7] = from_vector(std::vector<double>{21.0, 0.5}, {2});
  const auto [out, last] = reference_scan(s, in, true);
  testing::expect_near_vectors(scan(in, true).out.to_vector<double>(), out, 1e-12);
}

// Gradcheck of every input the config has, through a non-contiguous u.
void gradcheck_scan(const ScanShape& s, const ScanConfig& c, uint64_t seed) {
  V in = scan_inputs(s, c, seed);
  in[0] = leaf64({s.batch, s.L, s.dim}, seed);  // u given as the transpose of a [batch, L, d_inner] tensor
  V leaves;
  std::vector<int> slot;
  for (int k = 0; k < 8; ++k)
    if (in[k].defined()) {
      leaves.push_back(in[k]);
      slot.push_back(k);
    }
  EXPECT_GRADCHECK(
      [&](const V& x) {
        V args(8);
        for (size_t j = 0; j < x.size(); ++j) args[slot[j]] = x[j];
        args[0] = transpose(args[0], 1, 2);
        return scan(args, c.softplus).out;
      },
      leaves);
}

TEST(SelectiveScan, GradcheckEveryInput) {
  for (int64_t L : {1, 7, 130}) {
    SCOPED_TRACE("L = " + std::to_string(L));
    gradcheck_scan({2, 2, L, 2}, {true, true, true, true, true}, 10 + static_cast<uint64_t>(L));
  }
}

TEST(SelectiveScan, GradcheckWithoutOptionalInputs) {
  for (int64_t L : {7, 130}) {
    SCOPED_TRACE("L = " + std::to_string(L));
    gradcheck_scan({1, 2, L, 3}, {false, false, false, false, false}, 20 + static_cast<uint64_t>(L));
    gradcheck_scan({1, 2, L, 2}, {false, false, false, true, true}, 30 + static_cast<uint64_t>(L));
  }
}

TEST(SelectiveScan, GradcheckEachOptionalInputAlone) {
  gradcheck_scan({2, 1, 66, 2}, {true, false, false, false, false}, 41);
  gradcheck_scan({2, 1, 66, 2}, {false, true, false, true, true}, 42);
  gradcheck_scan({2, 1, 66, 2}, {false, false, true, false, false}, 43);
  gradcheck_scan({2, 1, 66, 2}, {false, false, true, true, false}, 44);
}

// A channel whose raw delta is above softplus' threshold (gradient 1 there).
TEST(SelectiveScan, GradcheckAboveTheSoftplusThreshold) {
  V in = scan_inputs({1, 2, 9, 2}, {true, true, true, true, false}, 50);
  in[7] = from_vector(std::vector<double>{21.0, 0.2}, {2});
  in[7].set_requires_grad(true);
  EXPECT_GRADCHECK([](const V& x) { return scan(x, true).out; }, in);
}

// A new leaf with t's values in `dtype` (never t itself, so gradients do not accumulate across runs).
Tensor fresh_leaf(const Tensor& t, DType dtype) {
  Tensor c = empty(t.shape(), dtype);
  copy_into(c, t);
  return c.set_requires_grad(true);
}

// float32 forward and backward: every output and gradient as raw bytes.
std::vector<std::vector<uint8_t>> scan_bits(const V& in64, const Tensor& dout) {
  V in(8);
  for (int k = 0; k < 8; ++k)
    if (in64[k].defined()) in[k] = fresh_leaf(in64[k], DType::Float32);
  SelectiveScanResult r = scan(in, true);
  autograd::backward(r.out, dout);
  std::vector<std::vector<uint8_t>> bits;
  auto add = [&](const Tensor& t) {
    const Tensor c = to_contiguous(t);
    const auto* p = static_cast<const uint8_t*>(c.raw_data());
    bits.emplace_back(p, p + c.numel() * static_cast<int64_t>(c.element_size()));
  };
  add(r.out);
  add(r.last_state);
  for (const Tensor& t : in)
    if (t.defined()) add(t.grad());
  return bits;
}

TEST(SelectiveScan, SameBitsForAnyThreadCount) {
  // 70 channels: three channel groups of the backward's dB, dC sums; L 200 spans four chunks.
  const ScanShape s{3, 70, 200, 5};
  const V in = scan_inputs(s, {true, true, true, true, true}, 60);
  const Tensor dout = testing::rand32({s.batch, s.dim, s.L}, 61);
  const int saved_threads = num_threads();
  set_num_threads(1);
  const auto one = scan_bits(in, dout);
  set_num_threads(2);
  const auto two = scan_bits(in, dout);
  set_num_threads(saved_threads);
  ASSERT_EQ(one.size(), 10u);
  for (size_t k = 0; k < one.size(); ++k) EXPECT_TRUE(one[k] == two[k]) << "tensor " << k << " differs";
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

// |a - b| <= tol * max|b| elementwise.
void expect_close_rel_max(const Tensor& a, const Tensor& b, double tol, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  const auto av = a.to_vector<double>(), bv = b.to_vector<double>();
  const double scale = std::max(max_abs(bv), 1e-30);
  for (size_t i = 0; i < av.size(); ++i) ASSERT_NEAR(av[i], bv[i], tol * scale) << what << " at " << i;
}

// bfloat16 / float16 I/O computes in float32: the outputs and gradients are the float32 scan's
// on the rounded inputs, rounded (exactly), and near the float32 scan on the unrounded inputs.
TEST(SelectiveScan, HalfPrecisionInputsMatchFloat32) {
  const ScanShape s{2, 6, 70, 4};
  const V in64 = scan_inputs(s, {true, true, true, true, true}, 70);
  for (DType io : {DType::BFloat16, DType::Float16}) {
    SCOPED_TRACE(dtype_name(io));
    const double tol = io == DType::BFloat16 ? 3e-2 : 4e-3;  // of the tensor's largest magnitude
    // u, delta, B, C, z in io; A, D, delta_bias float32.
    V half(8), rounded(8), exact(8);
    for (int k = 0; k < 8; ++k) {
      const bool io_arg = k == 0 || k == 1 || k == 3 || k == 4 || k == 6;
      half[k] = fresh_leaf(in64[k], io_arg ? io : DType::Float32);
      rounded[k] = fresh_leaf(half[k], DType::Float32);
      exact[k] = fresh_leaf(in64[k], DType::Float32);
    }
    const Tensor dout = convert(testing::rand32({s.batch, s.dim, s.L}, 71), io);
    // backward() consumes the whole tape: each scan's backward before the next scan.
    SelectiveScanResult rh = scan(half, true);
    autograd::backward(rh.out, dout);
    SelectiveScanResult rr = scan(rounded, true);
    autograd::backward(rr.out, convert(dout, DType::Float32));
    SelectiveScanResult re = scan(exact, true);
    autograd::backward(re.out, convert(dout, DType::Float32));
    EXPECT_EQ(rh.out.dtype(), io);
    EXPECT_EQ(rh.last_state.dtype(), DType::Float32);
    EXPECT_TRUE(rh.out.to_vector<double>() == convert(rr.out, io).to_vector<double>());
    EXPECT_TRUE(rh.last_state.to_vector<double>() == rr.last_state.to_vector<double>());
    expect_close_rel_max(rh.out, re.out, tol, "out");
    expect_close_rel_max(rh.last_state, re.last_state, tol, "last_state");
    for (int k = 0; k < 8; ++k) {
      SCOPED_TRACE("input " + std::to_string(k));
      EXPECT_EQ(half[k].grad().dtype(), half[k].dtype());
      const Tensor rounded_grad = convert(rounded[k].grad(), half[k].dtype());
      EXPECT_TRUE(half[k].grad().to_vector<double>() == rounded_grad.to_vector<double>());
      expect_close_rel_max(half[k].grad(), exact[k].grad(), tol, "grad");
    }
  }
}

// Expects fn to throw std::invalid_argument whose message contains every one of `parts`.
template <typename Fn> void expect_error(Fn fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(SelectiveScan, BadArgumentsAreNamed) {
  const ScanShape s{2, 3, 5, 4};
  V in = scan_inputs(s, {true, true, true, true, true}, 80);
  for (Tensor& t : in) t.set_requires_grad(false);
  auto with = [&](int k, const Tensor& t) {
    V x = in;
    x[k] = t;
    return [x] { scan(x, true); };
  };
  expect_error(with(0, zeros({2, 3})), {"selective_scan", "u", "[2, 3]", "[batch, d_inner, L]"});
  expect_error(with(0, zeros({2, 3, 5}, DType::Int32)), {"u", "int32"});
  expect_error(with(1, zeros({2, 3, 6}, DType::Float64)), {"delta", "[2, 3, 6]", "[2, 3, 5]"});
  expect_error(with(1, zeros({2, 3, 5}, DType::Float32)), {"delta", "float32", "float64"});
  expect_error(with(2, zeros({4, 4}, DType::Float64)), {"A", "[4, 4]", "[d_inner, N]", "[3, 4]"});
  expect_error(with(2, zeros({3}, DType::Float64)), {"A", "[3]", "[d_inner, N]"});
  expect_error(with(3, zeros({2, 2, 4, 5}, DType::Float64)), {"B", "[2, 2, 4, 5]", "[2, 1, 4, 5]"});
  expect_error(with(3, zeros({2, 4}, DType::Float64)), {"B", "[2, 4]", "[batch, 1, N, L] or [batch, N, L]"});
  expect_error(with(4, zeros({2, 4, 4}, DType::Float64)), {"C", "[2, 4, 4]", "[2, 4, 5]"});
  expect_error(with(3, Tensor()), {"B is undefined"});
  expect_error(with(5, zeros({4}, DType::Float64)), {"D", "[4]", "[3]"});
  expect_error(with(6, zeros({2, 3, 5}, DType::Float32)), {"z", "float32"});
  expect_error(with(7, zeros({3, 1}, DType::Float64)), {"delta_bias", "[3, 1]"});
  // Half-precision u wants float32 parameters.
  V h(8);
  for (int k = 0; k < 8; ++k) h[k] = convert(in[k], k == 2 || k == 5 || k == 7 ? DType::Float32 : DType::BFloat16);
  EXPECT_NO_THROW(scan(h, true));
  h[2] = convert(in[2], DType::BFloat16);
  expect_error([&] { scan(h, true); }, {"A", "bfloat16", "must be float32"});
}

// causal_conv1d written out in double.
std::vector<double> reference_conv(const Tensor& x, const Tensor& weight, const Tensor& bias, bool silu) {
  const int64_t batch = x.size(0), d = x.size(1), L = x.size(2), W = weight.shape().back();
  const auto xv = x.to_vector<double>(), wv = weight.to_vector<double>();
  const auto bv = bias.defined() ? bias.to_vector<double>() : std::vector<double>();
  std::vector<double> out(xv.size());
  for (int64_t r = 0; r < batch * d; ++r)
    for (int64_t t = 0; t < L; ++t) {
      double acc = bv.empty() ? 0.0 : bv[r % d];
      for (int64_t k = 0; k < W; ++k)
        if (t - (W - 1) + k >= 0) acc += wv[(r % d) * W + k] * xv[r * L + t - (W - 1) + k];
      out[r * L + t] = silu ? acc / (1 + std::exp(-acc)) : acc;
    }
  return out;
}

TEST(CausalConv1d, ForwardMatchesTheSum) {
  for (int64_t W : {2, 3, 4})
    for (bool silu : {false, true}) {
      SCOPED_TRACE("W = " + std::to_string(W) + (silu ? " silu" : ""));
      Tensor x = leaf64({2, 3, 9}, 1), w = leaf64({3, 1, W}, 2), b = leaf64({3}, 3);
      testing::expect_near_vectors(causal_conv1d(x, w, b, silu).to_vector<double>(), reference_conv(x, w, b, silu),
                                   1e-12);
      testing::expect_near_vectors(causal_conv1d(x, w, Tensor(), silu).to_vector<double>(),
                                   reference_conv(x, w, Tensor(), silu), 1e-12);
    }
  // L shorter than the width.
  Tensor x = leaf64({1, 2, 2}, 4), w = leaf64({2, 4}, 5);
  testing::expect_near_vectors(causal_conv1d(x, w, Tensor(), true).to_vector<double>(),
                               reference_conv(x, w, Tensor(), true), 1e-12);
}

TEST(CausalConv1d, GradcheckEveryWidth) {
  for (int64_t W : {2, 3, 4})
    for (bool silu : {false, true})
      for (bool with_bias : {false, true}) {
        SCOPED_TRACE("W = " + std::to_string(W) + (silu ? " silu" : "") + (with_bias ? " bias" : ""));
        Tensor x = leaf64({2, 7, 3}, 10 + static_cast<uint64_t>(W));  // x as the transpose of [batch, L, d]
        V in{x, leaf64(W == 3 ? Shape{3, 1, W} : Shape{3, W}, 20)};
        if (with_bias) in.push_back(leaf64({3}, 30));
        EXPECT_GRADCHECK(
            [&](const V& v) { return causal_conv1d(transpose(v[0], 1, 2), v[1], with_bias ? v[2] : Tensor(), silu); },
            in);
      }
}

TEST(CausalConv1d, SameBitsForAnyThreadCountAndHalfPrecision) {
  const Tensor x = testing::rand32({3, 40, 50}, 40), w = testing::rand32({40, 4}, 41), b = testing::rand32({40}, 42);
  const Tensor dout = testing::rand32({3, 40, 50}, 43);
  auto run = [&](DType io) {
    const V in{fresh_leaf(x, io), fresh_leaf(w, DType::Float32), fresh_leaf(b, DType::Float32)};
    Tensor y = causal_conv1d(in[0], in[1], in[2], true);
    autograd::backward(y, convert(dout, io));
    return V{y, in[0].grad(), in[1].grad(), in[2].grad()};
  };
  const int saved_threads = num_threads();
  set_num_threads(1);
  const V one = run(DType::Float32);
  set_num_threads(2);
  const V two = run(DType::Float32);
  set_num_threads(saved_threads);
  for (size_t k = 0; k < one.size(); ++k) EXPECT_TRUE(one[k].to_vector<float>() == two[k].to_vector<float>()) << k;
  const V half = run(DType::BFloat16);
  EXPECT_EQ(half[0].dtype(), DType::BFloat16);
  for (size_t k = 0; k < one.size(); ++k) expect_close_rel_max(half[k], one[k], 3e-2, "tensor " + std::to_string(k));
}

TEST(CausalConv1d, BadArgumentsAreNamed) {
  const Tensor x = zeros({2, 3, 5}), w = zeros({3, 4}), b = zeros({3});
  expect_error([&] { causal_conv1d(zeros({3, 5}), w, b, true); }, {"causal_conv1d", "x", "[3, 5]", "[batch, d, L]"});
  expect_error([&] { causal_conv1d(x, zeros({3, 5}), b, true); }, {"weight", "[3, 5]", "W must be 2, 3 or 4"});
  expect_error([&] { causal_conv1d(x, zeros({3, 1}), b, true); }, {"weight", "W must be 2, 3 or 4"});
  expect_error([&] { causal_conv1d(x, zeros({4, 4}), b, true); }, {"weight", "[4, 4]", "d = 3"});
  expect_error([&] { causal_conv1d(x, zeros({3, 2, 4}), b, true); }, {"weight", "[3, 2, 4]"});
  expect_error([&] { causal_conv1d(x, w, zeros({4}), true); }, {"bias", "[4]", "[3]"});
  expect_error([&] { causal_conv1d(x, zeros({3, 4}, DType::Float64), b, true); }, {"weight", "float64", "float32"});
  expect_error([&] { causal_conv1d(zeros({2, 3, 5}, DType::Int64), w, b, true); }, {"x", "int64"});
}

}  // namespace
}  // namespace emrrg
