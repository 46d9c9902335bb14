// The Llama decoder's ops: rotary, attention and swiglu. Gradients by float64 finite
// differences; attention against softmax(QK^T)V composed from the basic ops at sizes that cross
// its 32-query / 64-key tiles; fully-masked rows; thread-count independence.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ops/ops.h"
#include "runtime/safetensors.h"
#include "runtime/threading.h"
#include "test_helpers.h"

namespace emrrg {
namespace {
using testing::leaf64;
using V = std::vector<Tensor>;

// [B, L, H, D] -> the [B, H, L, D] view the model hands to attention and rotary.
Tensor heads_view(const Tensor& t) { return transpose(t, 1, 2); }

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

void expect_all_near(const Tensor& a, const Tensor& b, double atol, const char* what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  const auto x = values(a), y = values(b);
  for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(x[i], y[i], atol) << what << " at " << i;
}

// -- rotary

TEST(Rotary, GradcheckBothPairingsAndPositionShapes) {
  for (RotaryPairing pairing : {RotaryPairing::HalfSplit, RotaryPairing::Interleaved}) {
    Tensor x = leaf64({2, 3, 2, 6}, 1);  // [B, L, H, D]
    Tensor pos1 = from_vector<int64_t>({3, 0, 7}, {3});
    Tensor pos2 = from_vector<int64_t>({0, 1, 2, 5, 6, 9}, {2, 3}, DType::Int32);
    for (const Tensor& pos : {pos1, pos2}) {
      SCOPED_TRACE(pos.dim());
      EXPECT_GRADCHECK([&](const V& in) { return rotary(heads_view(in[0]), pos, 10000.0, pairing); }, {x});
    }
  }
}

TEST(Rotary, PairingsRotateTheDocumentedPairs) {
  // One head of dim 4 at position 1: pair 0 turns by 1 rad, pair 1 by 1/sqrt(theta) rad.
  const double theta = 100.0;
  Tensor x = from_vector<double>({1, 2, 3, 4}, {1, 1, 1, 4});
  Tensor pos = from_vector<int64_t>({1}, {1});
  const double a0 = 1.0, a1 = static_cast<double>(1.0f / std::pow(100.0f, 0.5f));
  const double c0 = static_cast<float>(std::cos(static_cast<float>(a0))),
               s0 = static_cast<float>(std::sin(static_cast<float>(a0)));
  const double c1 = static_cast<float>(std::cos(static_cast<float>(a1))),
               s1 = static_cast<float>(std::sin(static_cast<float>(a1)));
  // HalfSplit pairs (0, 2) and (1, 3); Interleaved pairs (0, 1) and (2, 3).
  testing::expect_near_vectors(values(rotary(x, pos, theta, RotaryPairing::HalfSplit)),
                               {1 * c0 - 3 * s0, 2 * c1 - 4 * s1, 3 * c0 + 1 * s0, 4 * c1 + 2 * s1}, 1e-12);
  testing::expect_near_vectors(values(rotary(x, pos, theta, RotaryPairing::Interleaved)),
                               {1 * c0 - 2 * s0, 2 * c0 + 1 * s0, 3 * c1 - 4 * s1, 4 * c1 + 3 * s1}, 1e-12);
}

TEST(Rotary, BadArgumentsAreNamed) {
  Tensor x = testing::rand32({1, 2, 3, 4}, 2);
  EXPECT_THROW(rotary(testing::rand32({2, 3, 5}, 3), arange(3), 1e4, RotaryPairing::HalfSplit), std::invalid_argument);
  EXPECT_THROW(rotary(testing::rand32({1, 2, 3, 5}, 3), arange(3), 1e4, RotaryPairing::HalfSplit),
               std::invalid_argument);
  EXPECT_THROW(rotary(x, arange(4), 1e4, RotaryPairing::HalfSplit), std::invalid_argument);
  EXPECT_THROW(rotary(x, testing::rand32({3}, 4), 1e4, RotaryPairing::HalfSplit), std::invalid_argument);
  EXPECT_THROW(rotary(x, arange(3), 0.0, RotaryPairing::HalfSplit), std::invalid_argument);
}

// -- swiglu

TEST(Swiglu, Gradcheck) {
  Tensor gate = leaf64({3, 5}, 5, -3, 3), up = leaf64({5, 3}, 6);
  EXPECT_GRADCHECK([](const V& in) { return swiglu(in[0], transpose(in[1], 0, 1)); }, {gate, up});
}

TEST(Swiglu, EqualsSiluTimesUpRoundedLikeHuggingFace) {
  for (DType dt : {DType::Float32, DType::BFloat16, DType::Float16}) {
    Tensor gate = convert(testing::rand32({4, 33}, 7, -4, 4), dt), up = convert(testing::rand32({4, 33}, 8), dt);
    Tensor y = swiglu(gate, up);
    EXPECT_EQ(y.dtype(), dt);
    EXPECT_EQ(values(y), values(mul(silu(gate), up))) << dtype_name(dt);
  }
  EXPECT_THROW(swiglu(testing::rand32({2, 3}, 1), testing::rand32({3, 2}, 1)), std::invalid_argument);
}

// -- attention

// softmax(scale * QK^T + mask) V from matmul and softmax, GQA by repeating kv heads; hidden keys
// get -1e30, so rows that see no key are excluded by the caller. Returns {out, lse}.
V naive_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, const Tensor& keep, double scale) {
  const int64_t B = q.size(0), Hq = q.size(1), Lq = q.size(2), Hk = k.size(1), Lk = k.size(2);
  std::vector<int64_t> kv_of_q;
  for (int64_t h = 0; h < Hq; ++h) kv_of_q.push_back(h / (Hq / Hk));
  const Tensor idx = from_vector(kv_of_q, {Hq});
  const Tensor kr = index_select(k, 1, idx), vr = index_select(v, 1, idx);
  Tensor s = mul(matmul(q, transpose(kr, 2, 3)), scale);  // [B, Hq, Lq, Lk]
  std::vector<uint8_t> hidden(static_cast<size_t>(B * Lq * Lk));
  const std::vector<int64_t> kp = keep.defined() ? keep.to_vector<int64_t>() : std::vector<int64_t>(B * Lk, 1);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < Lq; ++i)
      for (int64_t j = 0; j < Lk; ++j) hidden[(b * Lq + i) * Lk + j] = (causal && j > i + Lk - Lq) || !kp[b * Lk + j];
  s = masked_fill(s, from_vector(hidden, {B, 1, Lq, Lk}, DType::Bool), -1e30);
  const Tensor m = max(s, -1, true);
  const Tensor lse = add(squeeze(m, -1), log(sum(exp(sub(s, m)), {-1})));
  return {matmul(softmax(s, -1), vr), lse};
}

struct AttentionCase {
  int64_t B, Hq, Hk, Lq, Lk, D;
  bool causal;
  bool padded;
  double scale;
};

// A [B, Lk] mask that hides every third key, differently per batch, but never key 0, which
// every row sees when Lq <= Lk.
Tensor some_padding(int64_t B, int64_t Lk) {
  std::vector<uint8_t> keep(static_cast<size_t>(B * Lk), 1);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 1; j < Lk; ++j)
      if ((j + b) % 3 == 1) keep[b * Lk + j] = 0;
  return from_vector(keep, {B, Lk}, DType::Bool);
}

// Leaves q [B, Lq, Hq, D], k, v [B, Lk, Hk, D] (the attention inputs are their head views).
V attention_leaves(const AttentionCase& c, uint64_t seed, DType dt) {
  V leaves;
  int idx = 0;
  for (const Shape& s : {Shape{c.B, c.Lq, c.Hq, c.D}, Shape{c.B, c.Lk, c.Hk, c.D}, Shape{c.B, c.Lk, c.Hk, c.D}}) {
    Tensor t = convert(testing::rand32(s, seed + idx++, -1.5, 1.5), dt);
    t.set_requires_grad(true);
    leaves.push_back(t);
  }
  return leaves;
}

TEST(Attention, Gradcheck) {
  const std::vector<AttentionCase> cases = {
      {1, 2, 2, 5, 5, 3, true, false, 0.0},   // causal
      {2, 2, 2, 4, 6, 3, false, true, 0.0},   // padded
      {1, 4, 2, 4, 4, 2, true, true, 0.0},    // GQA, causal and padded
      {2, 2, 1, 3, 6, 2, true, false, 0.7},   // Lq < Lk causal (a KV cache), explicit scale
      {1, 1, 1, 5, 3, 2, true, false, 0.0},   // Lq > Lk causal: the first rows see nothing
      {1, 1, 1, 40, 70, 2, true, true, 0.0},  // two query tiles, two key tiles
  };
  for (const AttentionCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << "Lq " << c.Lq << " Lk " << c.Lk << " Hq " << c.Hq << " Hk " << c.Hk);
    const V in = attention_leaves(c, 10, DType::Float64);
    const Tensor keep = c.padded ? some_padding(c.B, c.Lk) : Tensor();
    EXPECT_GRADCHECK(
        [&](const V& x) {
          return attention(heads_view(x[0]), heads_view(x[1]), heads_view(x[2]), c.causal, keep, c.scale).out;
        },
        in);
  }
}

// Ours in float32 or bfloat16 against the naive composition in float64 of the same values:
// forward out and lse, and the gradients of q, k and v for one output weighting.
void check_against_naive(const AttentionCase& c, DType dt, double out_tol, double grad_tol) {
  SCOPED_TRACE(::testing::Message() << dtype_name(dt) << " Lq " << c.Lq << " Lk " << c.Lk << " causal " << c.causal);
  const V in = attention_leaves(c, 20, dt);
  const Tensor keep = c.padded ? some_padding(c.B, c.Lk) : Tensor();
  const AttentionResult ours =
      attention(heads_view(in[0]), heads_view(in[1]), heads_view(in[2]), c.causal, keep, c.scale);
  const Tensor w = testing::rand32(ours.out.shape(), 99);
  autograd::backward(ours.out, convert(w, dt));

  V ref_in;
  for (const Tensor& t : in) {
    Tensor r = convert(detach(t), DType::Float64);
    r.set_requires_grad(true);
    ref_in.push_back(r);
  }
  const double scale = c.scale > 0 ? c.scale : 1.0 / std::sqrt(static_cast<double>(c.D));
  const V ref =
      naive_attention(heads_view(ref_in[0]), heads_view(ref_in[1]), heads_view(ref_in[2]), c.causal, keep, scale);
  autograd::backward(ref[0], convert(w, DType::Float64));

  EXPECT_EQ(ours.out.dtype(), dt);
  EXPECT_EQ(ours.lse.dtype(), DType::Float32);
  expect_all_near(ours.out, ref[0], out_tol, "out");
  expect_all_near(ours.lse, ref[1], 1e-5 * (dt == DType::Float32 ? 1 : 1e3), "lse");
  for (int t = 0; t < 3; ++t) expect_all_near(in[t].grad(), ref_in[t].grad(), grad_tol, "grad");
}

TEST(Attention, MatchesNaiveSoftmaxAcrossTiles) {
  for (int64_t L : {1, 17, 70}) {
    check_against_naive({2, 4, 2, L, L, 8, true, false, 0.0}, DType::Float32, 1e-5, 1e-4);
    check_against_naive({2, 4, 2, L, L, 8, false, true, 0.0}, DType::Float32, 1e-5, 1e-4);
  }
  check_against_naive({1, 2, 1, 33, 130, 8, true, true, 0.3}, DType::Float32, 1e-5, 1e-4);  // prefix of a cache
  check_against_naive({1, 2, 2, 65, 65, 16, false, false, 0.0}, DType::Float32, 1e-5, 1e-4);
}

TEST(Attention, BFloat16AccumulatesInFloat32) {
  // Inputs are bf16 values; the result is the float32-accurate answer rounded once to bf16
  // (relative 2^-8), and gradients carry the rounding of out and dout.
  check_against_naive({1, 4, 2, 70, 70, 16, true, true, 0.0}, DType::BFloat16, 1e-2, 3e-2);
}

TEST(Attention, RowsThatSeeNoKeyGiveZeroAndMinusInfinity) {
  // Batch 1's keys are all padding; under the causal rule with Lq > Lk, rows 0 and 1 of batch 0
  // see no key either.
  const AttentionCase c{2, 2, 1, 5, 3, 4, true, false, 0.0};
  const V in = attention_leaves(c, 30, DType::Float32);
  const Tensor keep = from_vector<uint8_t>({1, 1, 1, 0, 0, 0}, {2, 3});
  const AttentionResult r = attention(heads_view(in[0]), heads_view(in[1]), heads_view(in[2]), true, keep);
  autograd::backward(sum(r.out));
  const std::vector<double> out = values(r.out), lse = values(r.lse);  // out [2, 2, 5, 4], lse [2, 2, 5]
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t i = 0; i < 5; ++i) {
        const bool blind = b == 1 || i < 2;
        const double l = lse[(b * 2 + h) * 5 + i];
        EXPECT_EQ(blind, std::isinf(l) && l < 0) << b << " " << h << " " << i;
        for (int64_t d = 0; d < 4; ++d) {
          const double o = out[((b * 2 + h) * 5 + i) * 4 + d];
          EXPECT_FALSE(std::isnan(o));
          if (blind) {
            EXPECT_EQ(o, 0.0);
          }
        }
      }
  for (const Tensor& t : in)
    for (double g : values(t.grad())) EXPECT_TRUE(std::isfinite(g));
  // q rows [B, Lq, Hq, D] that see nothing get no gradient; neither do batch 1's keys.
  const std::vector<double> dq = values(in[0].grad()), dk = values(in[1].grad());
  for (size_t e = 0; e < dq.size(); ++e)
    if (e / (5 * 2 * 4) == 1 || (e / (2 * 4)) % 5 < 2) {
      EXPECT_EQ(dq[e], 0.0) << e;
    }
  for (size_t e = dk.size() / 2; e < dk.size(); ++e) EXPECT_EQ(dk[e], 0.0) << e;
}

TEST(Attention, EmptySequences) {
  // No keys: every row is blind. No queries: an empty result.
  Tensor q = testing::rand32({1, 2, 3, 4}, 1), none = testing::rand32({1, 1, 0, 4}, 2);
  q.set_requires_grad(true);
  const AttentionResult r = attention(q, none, none, false);
  EXPECT_EQ(values(r.out), std::vector<double>(24, 0.0));
  for (double l : values(r.lse)) EXPECT_EQ(l, -std::numeric_limits<double>::infinity());
  autograd::backward(sum(r.out));
  EXPECT_EQ(values(q.grad()), std::vector<double>(24, 0.0));
  const AttentionResult e = attention(none, testing::rand32({1, 1, 5, 4}, 3), testing::rand32({1, 1, 5, 4}, 4), true);
  EXPECT_EQ(e.out.shape(), (Shape{1, 1, 0, 4}));
  EXPECT_EQ(e.lse.shape(), (Shape{1, 1, 0}));
}

TEST(Attention, SameBitsWithOneOrTwoThreads) {
  const AttentionCase c{1, 4, 2, 100, 100, 16, true, true, 0.0};
  const Tensor keep = some_padding(c.B, c.Lk);
  const int saved_threads = num_threads();
  std::vector<std::vector<double>> runs[2];
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    const V in = attention_leaves(c, 40, DType::Float32);
    const AttentionResult r = attention(heads_view(in[0]), heads_view(in[1]), heads_view(in[2]), true, keep);
    autograd::backward(r.out, testing::rand32(r.out.shape(), 41));
    runs[threads - 1] = {values(r.out), values(r.lse), values(in[0].grad()), values(in[1].grad()),
                         values(in[2].grad())};
  }
  set_num_threads(saved_threads);
  for (size_t t = 0; t < runs[0].size(); ++t) EXPECT_EQ(runs[0][t], runs[1][t]) << "result " << t;
}

TEST(Attention, BadArgumentsAreNamed) {
  const Tensor q = testing::rand32({1, 4, 3, 8}, 1), k = testing::rand32({1, 2, 5, 8}, 2);
  EXPECT_NO_THROW(attention(q, k, k, false));
  EXPECT_THROW(attention(testing::rand32({1, 3, 3, 8}, 1), k, k, false), std::invalid_argument);  // 3 % 2
  EXPECT_THROW(attention(q, k, testing::rand32({1, 2, 4, 8}, 3), false), std::invalid_argument);
  EXPECT_THROW(attention(q, testing::rand32({1, 2, 5, 4}, 3), testing::rand32({1, 2, 5, 4}, 3), false),
               std::invalid_argument);
  EXPECT_THROW(attention(q, convert(k, DType::BFloat16), k, false), std::invalid_argument);
  EXPECT_THROW(attention(q, k, k, false, ones({1, 4}, DType::Bool)), std::invalid_argument);
  EXPECT_THROW(attention(q, k, k, false, ones({1, 5}, DType::Float32)), std::invalid_argument);
  EXPECT_THROW(attention(reshape(q, {4, 3, 8}), k, k, false), std::invalid_argument);
}

// -- against the references (tests/fixtures/llama_ops_golden.safetensors, written by
// tests/golden/make_llama_ops_golden.py): forward values and the gradients of sum(w * out).

class LlamaOpsGolden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    file_ = new SafetensorsFile(
        SafetensorsFile::open(std::string(EMRRG_FIXTURES_DIR) + "/llama_ops_golden.safetensors"));
  }
  static void TearDownTestSuite() { delete file_; }
  static Tensor get(const std::string& name) { return file_->get(name); }
  // A leaf copy of a fixture tensor.
  static Tensor leaf(const std::string& name) {
    const Tensor t = get(name);
    Tensor owned = empty(t.shape(), t.dtype());
    copy_into(owned, t);
    owned.set_requires_grad(true);
    return owned;
  }
  // out against <name>_out; backward with <name>_w; each input's grad against <name>_grad<i>.
  static void expect_case(const std::string& name, const Tensor& out, const V& inputs, double out_tol,
                          double grad_tol) {
    expect_all_near(out, get(name + "_out"), out_tol, (name + "_out").c_str());
    autograd::backward(out, get(name + "_w"));
    for (size_t i = 0; i < inputs.size(); ++i) {
      const std::string g = name + "_grad" + std::to_string(i);
      expect_all_near(inputs[i].grad(), get(g), grad_tol, g.c_str());
    }
  }
  static SafetensorsFile* file_;
};
SafetensorsFile* LlamaOpsGolden::file_ = nullptr;

TEST_F(LlamaOpsGolden, RotaryHalfSplitIsTransformersApplyRotaryPosEmb) {
  // float32 within a few ulps (cos and sin of the same float32 angles by two libms).
  Tensor x = leaf("rope_half_in0");
  expect_case("rope_half", rotary(x, get("rope_positions"), 10000.0, RotaryPairing::HalfSplit), {x}, 2e-6, 2e-6);
  // bfloat16 with rope_theta 1e6: every rounding where transformers rounds, so the same bits.
  Tensor xb = leaf("rope_half_bf16_in0");
  Tensor yb = rotary(xb, get("rope_positions"), 1e6, RotaryPairing::HalfSplit);
  EXPECT_EQ(yb.dtype(), DType::BFloat16);
  expect_case("rope_half_bf16", yb, {xb}, 0.0, 0.0);
  // Positions [L] are the positions of every batch: batch 0's [B, L] row is 0..L-1.
  Tensor y1 = rotary(detach(x), arange(5), 10000.0, RotaryPairing::HalfSplit);
  expect_all_near(select(y1, 0, 0), select(get("rope_half_out"), 0, 0), 2e-6, "positions [L]");
}

TEST_F(LlamaOpsGolden, RotaryInterleavedIsMetasComplexRotation) {
  Tensor x = leaf("rope_interleaved_in0");
  expect_case("rope_interleaved", rotary(heads_view(contiguous(heads_view(x))), get("rope_positions"), 10000.0,
                                         RotaryPairing::Interleaved),
              {x}, 2e-6, 2e-6);
}

TEST_F(LlamaOpsGolden, AttentionIsScaledDotProductAttention) {
  struct Case {
    const char* name;
    bool causal;
    double scale;
  };
  for (const Case& c : {Case{"attn_causal_gqa", true, 0.0}, Case{"attn_cache_padded", true, 0.3}}) {
    SCOPED_TRACE(c.name);
    const std::string n = c.name;
    V in{leaf(n + "_in0"), leaf(n + "_in1"), leaf(n + "_in2")};
    const Tensor keep = n == "attn_causal_gqa" ? Tensor() : get(n + "_keep");
    // The model's layout: [B, L, H, D] storage seen as [B, H, L, D].
    const AttentionResult r = attention(heads_view(contiguous(heads_view(in[0]))), heads_view(contiguous(heads_view(in[1]))),
                                        heads_view(contiguous(heads_view(in[2]))), c.causal, keep, c.scale);
    expect_all_near(r.lse, get(n + "_lse"), 1e-5, "lse");
    expect_case(n, r.out, in, 1e-5, 1e-4);
  }
  // bfloat16 (PyTorch's CPU kernel rounds P to bf16 for the P V product; we keep float32):
  // within two bf16 ulps of out (|out| < 2).
  const std::string n = "attn_padded_bf16";
  const AttentionResult r = attention(get(n + "_in0"), get(n + "_in1"), get(n + "_in2"), false, get(n + "_keep"));
  EXPECT_EQ(r.out.dtype(), DType::BFloat16);
  expect_all_near(r.out, get(n + "_out"), 1e-2, "bf16 out");
  expect_all_near(r.lse, get(n + "_lse"), 1e-4, "bf16 lse");
}

TEST_F(LlamaOpsGolden, SwigluIsSiluTimesUp) {
  V in{leaf("swiglu_in0"), leaf("swiglu_in1")};
  expect_case("swiglu", swiglu(in[0], in[1]), in, 1e-6, 1e-5);
  expect_all_near(swiglu(get("swiglu_bf16_in0"), get("swiglu_bf16_in1")), get("swiglu_bf16_out"), 0.0, "bf16");
}

}  // namespace
}  // namespace emrrg
