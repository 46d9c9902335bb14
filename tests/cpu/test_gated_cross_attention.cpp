// gated_cross_attention: float64 gradients in every input, the composition it fuses
// (attention, tanh, mul, add) across the attention's tiles, the warm-up gate at 0 (output and
// gradients exactly as without the cross branch), tokens that see no visual key, thread-count
// independence, argument errors, and PyTorch's values (tests/golden/make_emrrg_ops_golden.py).
#include <gtest/gtest.h>

#include <cmath>

#include "ops/ops.h"
#include "runtime/safetensors.h"
#include "runtime/threading.h"
#include "test_helpers.h"

namespace emrrg {
namespace {
using testing::expect_all_near;
using testing::values;
using V = std::vector<Tensor>;

// [B, L, H, D] -> the [B, H, L, D] view the model hands to the attention ops.
Tensor heads_view(const Tensor& t) { return transpose(t, 1, 2); }

struct Case {
  int64_t B, Hq, Hk, Lt, Lv, D;
  bool padded;
  bool gate_3d;  // gate_logit [B, Lt, 1] rather than [B, Lt]
};

// Leaves q [B, Lt, Hq, D], k, v [B, Lv, Hk, D], self_out [B, Lt, Hq, D], gate_logit, warm_up [1].
V leaves(const Case& c, uint64_t seed, DType dt, double warm_up) {
  const Shape gate = c.gate_3d ? Shape{c.B, c.Lt, 1} : Shape{c.B, c.Lt};
  V in;
  int i = 0;
  for (const Shape& s : {Shape{c.B, c.Lt, c.Hq, c.D}, Shape{c.B, c.Lv, c.Hk, c.D}, Shape{c.B, c.Lv, c.Hk, c.D},
                         Shape{c.B, c.Lt, c.Hq, c.D}, gate}) {
    Tensor t = convert(testing::rand32(s, seed + i++, -1.5, 1.5), dt);
    t.set_requires_grad(true);
    in.push_back(t);
  }
  Tensor w = full({1}, warm_up, dt);
  w.set_requires_grad(true);
  in.push_back(w);
  return in;
}

Tensor ours(const V& x, const Tensor& keep) {
  return gated_cross_attention(heads_view(x[0]), heads_view(x[1]), heads_view(x[2]), heads_view(x[3]), x[4], x[5],
                               keep);
}

// The layer as NOTES section 7 writes it, from separate ops.
Tensor composed(const V& x, const Tensor& keep) {
  const Tensor cross = attention(heads_view(x[0]), heads_view(x[1]), heads_view(x[2]), false, keep).out;
  const Tensor g = x[4].dim() == 3 ? x[4] : unsqueeze(x[4], -1);          // [B, Lt, 1]
  const Tensor token_gate = unsqueeze(tanh(g), 1);                        // [B, 1, Lt, 1]
  return add(heads_view(x[3]), mul(mul(cross, token_gate), tanh(x[5])));  // [B, Hq, Lt, D]
}

TEST(GatedCrossAttention, Gradcheck) {
  const std::vector<Case> cases = {
      {2, 4, 2, 5, 7, 3, true, true},    // GQA, padded visual keys, gate [B, Lt, 1]
      {1, 2, 2, 3, 4, 2, false, false},  // gate [B, Lt]
      {1, 1, 1, 33, 65, 2, true, true},  // two query tiles over two key tiles
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "Lt " << c.Lt << " Lv " << c.Lv << " Hq " << c.Hq << " Hk " << c.Hk);
    const V in = leaves(c, 10, DType::Float64, 0.6);
    const Tensor keep = c.padded ? testing::some_key_padding(c.B, c.Lv) : Tensor();
    EXPECT_GRADCHECK([&](const V& x) { return ours(x, keep); }, in);
  }
}

// Ours against the composition on the same float32 values: out and every gradient.
TEST(GatedCrossAttention, EqualsTheComposedLayerAcrossTiles) {
  for (const Case& c : {Case{2, 4, 2, 70, 130, 8, true, true}, Case{1, 2, 2, 33, 65, 16, false, false}}) {
    SCOPED_TRACE(::testing::Message() << "Lt " << c.Lt << " Lv " << c.Lv);
    const Tensor keep = c.padded ? testing::some_key_padding(c.B, c.Lv) : Tensor();
    const V a = leaves(c, 20, DType::Float32, -0.8), b = leaves(c, 20, DType::Float32, -0.8);
    // One graph at a time: backward consumes the whole tape.
    const Tensor out = ours(a, keep), w = testing::rand32(out.shape(), 21);
    autograd::backward(out, w);
    const Tensor ref = composed(b, keep);
    autograd::backward(ref, w);
    expect_all_near(out, ref, 1e-5, "out");
    for (size_t i = 0; i < a.size(); ++i) expect_all_near(a[i].grad(), b[i].grad(), 1e-4, "grad " + std::to_string(i));
  }
}

// 16-bit inputs: float32 inside, one rounding of out and of each gradient; against the float64
// composition on the same (bf16) values. Measured: gradient errors <= 1.8e-3 for |grad| <= 0.62.
TEST(GatedCrossAttention, BFloat16ComputesInFloat32) {
  const Case c{1, 4, 2, 40, 70, 16, true, true};
  const Tensor keep = testing::some_key_padding(c.B, c.Lv);
  const V in = leaves(c, 35, DType::BFloat16, 0.7);
  const Tensor out = ours(in, keep), w = convert(testing::rand32(out.shape(), 36), DType::BFloat16);
  EXPECT_EQ(out.dtype(), DType::BFloat16);
  autograd::backward(out, w);
  V ref;
  for (const Tensor& t : in) {
    Tensor r = convert(detach(t), DType::Float64);
    r.set_requires_grad(true);
    ref.push_back(r);
  }
  const Tensor ref_out = composed(ref, keep);
  autograd::backward(ref_out, convert(w, DType::Float64));
  expect_all_near(out, ref_out, 2e-2, "out");  // |out| < 4: one bf16 rounding
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(in[i].grad().dtype(), DType::BFloat16);
    expect_all_near(in[i].grad(), ref[i].grad(), 4e-3, "grad " + std::to_string(i));
  }
}

TEST(GatedCrossAttention, WarmUpGateAtZeroIsThePretrainedLayer) {
  // tanh(0) = 0: out is self_out bit for bit; k, v, q and gate_logit get exactly 0; self_out
  // gets dout; only warm_up learns (d warm_up = sum dout * cross * tanh(gate_logit)).
  for (DType dt : {DType::Float32, DType::BFloat16, DType::Float64}) {
    SCOPED_TRACE(dtype_name(dt));
    const Case c{2, 4, 2, 37, 70, 8, true, true};
    const Tensor keep = testing::some_key_padding(c.B, c.Lv);
    const V in = leaves(c, 30, dt, 0.0);
    const Tensor out = ours(in, keep);
    EXPECT_EQ(out.dtype(), dt);
    EXPECT_EQ(values(out), values(heads_view(in[3])));
    const Tensor w = convert(testing::rand32(out.shape(), 31), dt);
    autograd::backward(out, w);
    for (int i : {0, 1, 2, 4})
      for (double g : values(in[i].grad())) ASSERT_EQ(g, 0.0) << "input " << i;
    EXPECT_EQ(values(in[3].grad()), values(heads_view(w)));
    const double dw = values(in[5].grad())[0];
    EXPECT_NE(dw, 0.0);
    // The composition's d warm_up on the same values in float64.
    V ref;
    for (const Tensor& t : in) {
      Tensor r = convert(detach(t), DType::Float64);
      r.set_requires_grad(true);
      ref.push_back(r);
    }
    autograd::backward(composed(ref, keep), convert(w, DType::Float64));
    EXPECT_NEAR(dw, values(ref[5].grad())[0], std::abs(dw) * (dt == DType::BFloat16 ? 1e-2 : 1e-5));
  }
}

TEST(GatedCrossAttention, TokensThatSeeNoVisualKeyKeepTheirSelfAttention) {
  // Batch 1's visual keys are all padding: its cross is 0, so out = self_out there, and its
  // keys, values and gates get no gradient; nothing is NaN.
  const Case c{2, 2, 1, 4, 3, 4, false, true};
  const V in = leaves(c, 40, DType::Float32, 0.9);
  const Tensor keep = from_vector<uint8_t>({1, 0, 1, 0, 0, 0}, {2, 3});
  const Tensor out = ours(in, keep);
  autograd::backward(out, testing::rand32(out.shape(), 41));
  const std::vector<double> o = values(out), s = values(heads_view(in[3]));
  for (size_t e = o.size() / 2; e < o.size(); ++e) ASSERT_EQ(o[e], s[e]) << e;
  for (size_t e = 0; e < o.size() / 2; ++e) ASSERT_NE(o[e], s[e]) << e;
  for (int i : {1, 2}) {
    const std::vector<double> g = values(in[i].grad());  // [B, Lv, Hk, D]
    for (size_t e = g.size() / 2; e < g.size(); ++e) ASSERT_EQ(g[e], 0.0) << "input " << i << " at " << e;
  }
  const std::vector<double> dg = values(in[4].grad());  // [B, Lt, 1]
  for (size_t e = 4; e < 8; ++e) EXPECT_EQ(dg[e], 0.0);
  for (const Tensor& t : in)
    for (double g : values(t.grad())) ASSERT_TRUE(std::isfinite(g));
}

TEST(GatedCrossAttention, NoVisualTokens) {
  const Case c{1, 2, 1, 3, 0, 4, false, false};
  const V in = leaves(c, 45, DType::Float32, 0.5);
  const Tensor out = ours(in, Tensor());
  EXPECT_EQ(values(out), values(heads_view(in[3])));
  autograd::backward(out, testing::rand32(out.shape(), 46));
  for (int i : {0, 4, 5})
    for (double g : values(in[i].grad())) ASSERT_EQ(g, 0.0) << "input " << i;
}

TEST(GatedCrossAttention, SameBitsWithOneOrTwoThreads) {
  const Case c{1, 4, 2, 100, 130, 16, true, true};
  const Tensor keep = testing::some_key_padding(c.B, c.Lv);
  const int saved_threads = num_threads();
  std::vector<std::vector<double>> runs[2];
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    const V in = leaves(c, 50, DType::Float32, 0.3);
    const Tensor out = ours(in, keep);
    autograd::backward(out, testing::rand32(out.shape(), 51));
    runs[threads - 1].push_back(values(out));
    for (const Tensor& t : in) runs[threads - 1].push_back(values(t.grad()));
  }
  set_num_threads(saved_threads);
  for (size_t t = 0; t < runs[0].size(); ++t) EXPECT_EQ(runs[0][t], runs[1][t]) << "result " << t;
}

TEST(GatedCrossAttention, BadArgumentsAreNamed) {
  const Tensor q = testing::rand32({1, 4, 3, 8}, 1), k = testing::rand32({1, 2, 5, 8}, 2);
  const Tensor self = testing::rand32({1, 4, 3, 8}, 3), g = testing::rand32({1, 3, 1}, 4), w = zeros({1});
  EXPECT_NO_THROW(gated_cross_attention(q, k, k, self, g, w));
  EXPECT_NO_THROW(gated_cross_attention(q, k, k, self, reshape(g, {1, 3}), zeros({})));
  auto throws = [&](const Tensor& q_, const Tensor& k_, const Tensor& s_, const Tensor& g_, const Tensor& w_,
                    const Tensor& m_ = Tensor()) {
    try {
      gated_cross_attention(q_, k_, k_, s_, g_, w_, m_);
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("gated_cross_attention"), std::string::npos) << e.what();
      return;
    }
    ADD_FAILURE() << "no error";
  };
  throws(testing::rand32({1, 3, 3, 8}, 1), k, testing::rand32({1, 3, 3, 8}, 1), g, w);  // 3 heads over 2
  throws(q, k, testing::rand32({1, 3, 4, 8}, 5), g, w);                                 // self_out layout
  throws(q, k, convert(self, DType::BFloat16), g, w);
  throws(q, k, self, testing::rand32({1, 4, 1}, 6), w);  // gate of 4 tokens
  throws(q, k, self, testing::rand32({1, 3, 2}, 6), w);
  throws(q, k, self, g, zeros({2}));
  throws(q, k, self, g, w, ones({1, 4}, DType::Bool));  // mask of 4 visual keys
  throws(q, k, self, from_vector<int64_t>({1, 2, 3}, {1, 3, 1}), w);
}

// -- against PyTorch (tests/fixtures/emrrg_ops_golden.safetensors): the layer written with
// F.scaled_dot_product_attention (enable_gqa) and torch.tanh; forward and the gradients of
// sum(w * out) for all six inputs.

class EmrrgOpsGolden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    file_ =
        new SafetensorsFile(SafetensorsFile::open(std::string(EMRRG_FIXTURES_DIR) + "/emrrg_ops_golden.safetensors"));
  }
  static void TearDownTestSuite() { delete file_; }
  static Tensor get(const std::string& name) { return file_->get(name); }
  static Tensor leaf(const std::string& name) { return testing::leaf_copy(get(name)); }
  static SafetensorsFile* file_;
};
SafetensorsFile* EmrrgOpsGolden::file_ = nullptr;

TEST_F(EmrrgOpsGolden, GatedCrossAttentionIsTheComposedPyTorchLayer) {
  // float32: out within 1e-5, gradients within 1e-4 (|values| < ~10; sums of ~200 products).
  for (const std::string n : {"gxa_gqa_padded", "gxa_warm_up_zero"}) {
    SCOPED_TRACE(n);
    V in;
    for (int i = 0; i < 6; ++i) in.push_back(leaf(n + "_in" + std::to_string(i)));
    const Tensor keep = get(n + "_keep");
    const Tensor out = gated_cross_attention(in[0], in[1], in[2], in[3], in[4], in[5], keep);
    expect_all_near(out, get(n + "_out"), 1e-5, n + "_out");
    autograd::backward(out, get(n + "_w"));
    for (int i = 0; i < 6; ++i) {
      const std::string g = n + "_grad" + std::to_string(i);
      expect_all_near(in[i].grad(), get(g), 1e-4, g);
    }
  }
}

}  // namespace
}  // namespace emrrg
