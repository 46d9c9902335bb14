// Mamba models against PyTorch references (tests/fixtures/mamba_{hf,vim,arm}_golden.safetensors,
// written by tests/golden/make_mamba_golden.py): Hugging Face's MambaModel (slow path), and tiny
// Vim ("v2") and ARM ("v3") encoders with LoRA_p(X) and in_proj LoRA active. Also LoRA / Partial
// LoRA semantics, PEFT freezing and the checkpoint parameter names.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "autograd/tape.h"
#include "models/mamba/mamba_model.h"
#include "models/vision_mamba/vision_mamba.h"
#include "nn/lora.h"
#include "ops/ops.h"
#include "runtime/safetensors.h"
#include "test_helpers.h"

namespace emrrg {
namespace {

using models::VisionMamba;
using models::VisionMambaConfig;
using models::VisionMambaKind;

SafetensorsFile fixture(const std::string& name) {
  return SafetensorsFile::open(std::string(EMRRG_FIXTURES_DIR) + "/mamba_" + name + "_golden.safetensors");
}

// max |a - b| <= rel * max |b|: float32 against a float64 reference.
void expect_close(const Tensor& a, const Tensor& b, double rel, const std::string& what) {
  ASSERT_TRUE(a.defined()) << what << ": no value";
  ASSERT_EQ(a.shape(), b.shape()) << what;
  const auto av = a.to_vector<double>(), bv = b.to_vector<double>();
  double err = 0, scale = 0;
  for (size_t i = 0; i < av.size(); ++i) {
    err = std::max(err, std::abs(av[i] - bv[i]));
    scale = std::max(scale, std::abs(bv[i]));
  }
  EXPECT_LE(err, rel * scale) << what << ": max error " << err << " for max magnitude " << scale;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::abs(v));
  return m;
}

// Which parameters train while a fixture is checked: all of them, or the model's own PEFT freezing
// (frozen bases: each adapted Linear runs its first adapter fused as lora_linear, and only the
// adapters get gradients).
enum class Trains { Everything, AsConfigured };

// Loads the fixture's parameters, runs forward, backpropagates sum(out * loss_weight) and compares
// the output and the gradient of every parameter that trains.
template <typename Model>
void check_against_fixture(Model& model, const SafetensorsFile& f, const Tensor& input, double out_rel,
                           double grad_rel, Trains trains = Trains::Everything) {
  model.load_state_dict(testing::with_prefix(f, "param."));
  if (trains == Trains::Everything) model.unfreeze(".*");
  Tensor y = model.forward(input);
  expect_close(y, f.get("output"), out_rel, "output");
  autograd::backward(sum(y * f.get("loss_weight")));
  const auto grads = testing::with_prefix(f, "grad.");
  EXPECT_EQ(grads.size(), model.named_parameters().size());
  for (auto& [name, p] : model.named_parameters()) {
    ASSERT_TRUE(grads.count(name)) << name;
    if (p.requires_grad())
      expect_close(p.grad(), grads.at(name), grad_rel, "grad " + name);
    else
      EXPECT_FALSE(p.grad().defined()) << name << " is frozen but got a gradient";
  }
}

// Tolerances: float32 against float64 references; 1e-5 of the largest magnitude for outputs,
// 3e-5 for gradients (two layers of scans, sums over 17-34 positions).
constexpr double kOutputRel = 1e-5, kGradRel = 3e-5;

TEST(MambaGolden, HuggingFaceMambaModelForwardAndGradients) {
  SafetensorsFile f = fixture("hf");
  models::MambaModelConfig c;
  c.vocab_size = 40;
  c.hidden_size = 32;
  c.state_size = 8;
  c.num_hidden_layers = 2;
  models::MambaModel model(c);
  check_against_fixture(model, f, f.get("input"), kOutputRel, kGradRel);
}

VisionMambaConfig tiny(VisionMambaKind kind) {
  VisionMambaConfig c;
  c.kind = kind;
  c.image_size = 32;
  c.patch_size = 8;
  c.d_model = kind == VisionMambaKind::Vim ? 16 : 24;
  c.expand = kind == VisionMambaKind::Vim ? 2 : 1;
  c.depth = 2;
  c.d_state = 8;
  c.peft.lora_p_x = true;
  c.peft.lora_in_proj = true;
  c.peft.rank = 4;
  c.peft.scale = 0.5;
  c.peft.dropout = 0.0;
  return c;
}

TEST(MambaGolden, VimWithPartialLoraForwardAndGradients) {
  SafetensorsFile f = fixture("vim");
  VisionMamba model(tiny(VisionMambaKind::Vim));
  check_against_fixture(model, f, f.get("input"), kOutputRel, kGradRel);
}

TEST(MambaGolden, ArmWithPartialLoraForwardAndGradients) {
  SafetensorsFile f = fixture("arm");
  VisionMamba model(tiny(VisionMambaKind::Arm));
  check_against_fixture(model, f, f.get("input"), kOutputRel, kGradRel);
}

// The same fixtures with the encoders' own freezing, as training runs them: each in_proj and its
// in_proj LoRA are one lora_linear op (LoRA_p(X) composes after it), forward and backward, and
// follow MambaPEFT within the same tolerances.
TEST(MambaGolden, FrozenBasesRunTheFusedLoraOpWithinTheSameTolerances) {
  for (const auto& [kind, name] : {std::pair{VisionMambaKind::Vim, "vim"}, std::pair{VisionMambaKind::Arm, "arm"}}) {
    SCOPED_TRACE(name);
    SafetensorsFile f = fixture(name);
    VisionMamba model(tiny(kind));
    const testing::FusedLoraCalls calls = testing::fused_lora_calls(
        [&] { check_against_fixture(model, f, f.get("input"), kOutputRel, kGradRel, Trains::AsConfigured); });
    EXPECT_EQ(calls.forward, 2);  // one per layer
    EXPECT_EQ(calls.backward, 2);
  }
}

TEST(MambaGolden, VimInBfloat16FollowsTheFloat32Reference) {
  SafetensorsFile f = fixture("vim");
  VisionMambaConfig c = tiny(VisionMambaKind::Vim);
  c.dtype = DType::BFloat16;
  VisionMamba model(c);
  model.load_state_dict(testing::with_prefix(f, "param."));
  Tensor tokens = model.forward(f.get("input"));
  EXPECT_EQ(tokens.dtype(), DType::BFloat16);
  // bfloat16 weights and activations (8 mantissa bits), float32 scan state and residual
  expect_close(tokens, f.get("output"), 5e-2, "bfloat16 tokens");
}

TEST(Lora, DropoutActsOnTheRankActivationInTrainingOnly) {
  Generator gen(6);
  nn::Linear linear(8, 8, false, gen);
  Tensor x = testing::rand32({16, 8}, 4);
  Tensor base = linear.forward(x);
  auto lora = nn::attach_lora(linear, {4, 1.0, 0.5}, gen);
  copy_into(lora->up->weight, testing::rand32({8, 4}, 3));
  // eval: exactly base + up(down(x))
  linear.eval();
  expect_close(linear.forward(x), base + lora->from_rank(lora->down->forward(x)), 1e-6, "eval");
  Tensor eval_out = linear.forward(x);
  // training: each rank activation is dropped or doubled, so the output moves
  linear.train();
  const auto a = linear.forward(x).to_vector<double>(), b = eval_out.to_vector<double>();
  double diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = std::max(diff, std::abs(a[i] - b[i]));
  EXPECT_GT(diff, 1e-2) << "dropout 0.5 on the rank activation changed nothing in training";
}

TEST(Lora, FreshAdapterLeavesTheLinearUnchanged) {
  Generator gen(3);
  nn::Linear linear(6, 10, true, gen);
  Tensor x = testing::rand32({4, 6}, 1);
  Tensor before = linear.forward(x);
  auto lora = nn::attach_lora(linear, {3, 2.0, 0.1}, gen);
  nn::attach_partial_lora(linear, "lora_x", 2, 5, {3, 2.0, 0.1}, gen);
  EXPECT_EQ(lora->up->weight.to_vector<float>(), std::vector<float>(30, 0.0f));
  linear.eval();
  expect_close(linear.forward(x), before, 0.0, "fresh adapters");
  auto names = linear.state_dict();
  EXPECT_TRUE(names.count("lora.down.weight") && names.count("lora.up.weight") && names.count("lora_x.down.weight"));
  EXPECT_EQ(names.at("lora.down.weight").shape(), (Shape{3, 6}));
  EXPECT_EQ(names.at("lora_x.up.weight").shape(), (Shape{3, 3}));
}

TEST(Lora, PartialLoraAddsScaledLowRankTermIntoItsRowsOnly) {
  Generator gen(4);
  nn::Linear linear(5, 8, false, gen);
  Tensor x = testing::rand32({2, 3, 5}, 2);
  Tensor base = linear.forward(x);
  auto lora = nn::attach_partial_lora(linear, "lora_b", 3, 6, {2, 0.5, 0.0}, gen);
  copy_into(lora->up->weight, testing::rand32({3, 2}, 5));
  Tensor y = linear.forward(x);
  // expected: base + 0.5 * x down^T up^T in columns 3..5
  Tensor d = matmul(matmul(x, transpose(lora->down->weight, 0, 1)), transpose(lora->up->weight, 0, 1)) * 0.5;
  const auto yv = y.to_vector<double>(), bv = base.to_vector<double>(), dv = d.to_vector<double>();
  for (int64_t r = 0; r < 6; ++r)
    for (int64_t c = 0; c < 8; ++c) {
      const double want = bv[r * 8 + c] + (c >= 3 && c < 6 ? dv[r * 3 + c - 3] : 0.0);
      EXPECT_NEAR(yv[r * 8 + c], want, 1e-6) << r << "," << c;
    }
  EXPECT_THROW(nn::attach_partial_lora(linear, "lora_c", 6, 9, {2, 1.0, 0.0}, gen), std::invalid_argument);
  EXPECT_THROW(nn::attach_partial_lora(linear, "lora_b", 0, 2, {2, 1.0, 0.0}, gen), std::invalid_argument);
}

TEST(Lora, GradientsReachOnlyTheAdapterWhenTheLinearIsFrozen) {
  Generator gen(5);
  nn::Linear linear(4, 6, true, gen);
  auto lora = nn::attach_lora(linear, {2, 1.0, 0.0}, gen);
  linear.freeze("weight|bias");
  autograd::backward(sum(linear.forward(testing::rand32({3, 4}, 6))));
  EXPECT_FALSE(linear.weight.grad().defined());
  EXPECT_TRUE(lora->up->weight.grad().defined());
  // up is zero, so down's gradient is zero but present
  EXPECT_TRUE(lora->down->weight.grad().defined());
}

// One forward and backward: the output, the parameters' gradients (those that got one), and the
// lora_linear calls made.
struct PathResult {
  Tensor out;
  std::map<std::string, Tensor> grads;
  testing::FusedLoraCalls calls;
};

// Backpropagates sum(forward() * loss_weight) from the default generator at one fixed state (the
// adapters' dropout draws from it).
template <typename Fn>
PathResult run_path(nn::Module& module, const Tensor& loss_weight, Fn&& forward) {
  PathResult r;
  module.zero_grad();
  default_generator().set_state(99, 0);
  r.calls = testing::fused_lora_calls([&] {
    r.out = forward();
    autograd::backward(sum(r.out * loss_weight));
  });
  for (auto& [name, p] : module.named_parameters())
    if (p.grad().defined()) r.grads.emplace(name, p.grad());
  return r;
}

// The fused path against the composed one: the output and the gradient of every tensor the fused
// run trains within float32 rounding, rel of the largest magnitude (the GEMMs sum and scale in
// other orders; measured: outputs equal, gradients within 2e-7).
void expect_same_results(const PathResult& fused, const PathResult& composed, double rel) {
  expect_close(fused.out, composed.out, rel, "output");
  for (const auto& [name, g] : fused.grads) {
    ASSERT_TRUE(composed.grads.count(name)) << name;
    expect_close(g, composed.grads.at(name), rel, "grad " + name);
  }
}

// A frozen weight with a trained bias and a Partial LoRA, in training with dropout 0.5: forward and
// forward_without_bias (dt_proj's) run as one lora_linear, draw the composed path's mask and give
// its outputs and the gradients of x, the bias and the adapter. A trained weight composes.
TEST(Lora, FrozenLinearFusesItsAdapterAndMatchesTheComposition) {
  Generator gen(8);
  nn::Linear linear(6, 9, true, gen);
  auto lora = nn::attach_partial_lora(linear, "lora_b", 2, 7, {3, 0.5, 0.5}, gen);
  copy_into(lora->up->weight, testing::rand32({5, 3}, 9));
  const Tensor x0 = testing::rand32({2, 4, 6}, 10), loss_weight = testing::rand32({2, 4, 9}, 11);
  for (const bool with_bias : {true, false}) {
    SCOPED_TRACE(with_bias ? "forward" : "forward_without_bias");
    Tensor x;
    auto forward = [&] {
      x = testing::leaf_copy(x0);
      return with_bias ? linear.forward(x) : linear.forward_without_bias(x);
    };
    linear.weight.set_requires_grad(false);
    const PathResult fused = run_path(linear, loss_weight, forward);
    const Tensor fused_dx = x.grad();
    EXPECT_EQ(fused.calls.forward, 1);
    EXPECT_EQ(fused.calls.backward, 1);
    EXPECT_EQ(fused.grads.count("bias"), with_bias ? 1u : 0u);
    linear.weight.set_requires_grad(true);
    const PathResult composed = run_path(linear, loss_weight, forward);
    EXPECT_EQ(composed.calls.forward, 0);
    expect_same_results(fused, composed, 1e-6);
    expect_close(fused_dx, x.grad(), 1e-6, "grad x");
    // dropout acted: without it (eval) the output differs
    const autograd::NoGradGuard no_grad;
    linear.eval();
    EXPECT_GT(max_abs(sub(forward(), fused.out)), 1e-2);
    linear.train();
  }
}

TEST(MambaMixer, ColumnMajorOrderTransposesTheGridAroundTheMiddleClassToken) {
  // 2x2 grid, class token at 2: row-major [p00 p01 cls p10 p11] -> [p00 p10 cls p01 p11]
  EXPECT_EQ(nn::column_major_order(5).to_vector<int64_t>(), (std::vector<int64_t>{0, 3, 2, 1, 4}));
  Tensor order = nn::column_major_order(17);
  const auto o = order.to_vector<int64_t>();
  EXPECT_EQ(o[8], 8);
  EXPECT_EQ(o[1], 4);  // column-major position 1 is grid cell (1, 0) = row-major 4
  for (int64_t j = 0; j < 17; ++j) EXPECT_EQ(o[o[j]], j) << "the order is its own inverse";
  EXPECT_THROW(nn::column_major_order(18), std::invalid_argument);
}

TEST(MambaMixer, InitFollowsMambaSsm) {
  nn::MambaMixerConfig c;
  c.d_model = 32;
  c.d_state = 4;
  c.bimamba = nn::BiMamba::V2;
  Generator gen(7);
  nn::MambaMixer mixer(c, gen);
  EXPECT_EQ(c.resolved_dt_rank(), 2);
  const auto a = mixer.scans[1].A_log.to_vector<float>();
  for (int64_t d = 0; d < 64; ++d)
    for (int64_t n = 0; n < 4; ++n) EXPECT_FLOAT_EQ(a[d * 4 + n], std::log(static_cast<float>(n + 1)));
  EXPECT_EQ(mixer.scans[0].D.to_vector<float>(), std::vector<float>(64, 1.0f));
  for (float b : mixer.scans[0].dt_proj->bias.to_vector<float>()) {
    const double dt = std::log1p(std::exp(static_cast<double>(b)));  // softplus(bias) in [dt_min, dt_max]
    EXPECT_GE(dt, 0.001 * (1 - 1e-4));
    EXPECT_LE(dt, 0.1 * (1 + 1e-4));
  }
  const double bound = 1.0 / std::sqrt(2.0);
  for (float w : mixer.scans[0].dt_proj->weight.to_vector<float>()) EXPECT_LE(std::abs(w), bound);
}

std::set<std::string> names_of(const nn::Module& m, bool trainable_only) {
  std::set<std::string> out;
  for (auto& [name, t] : m.named_parameters())
    if (!trainable_only || t.requires_grad()) out.insert(name);
  return out;
}

VisionMambaConfig one_layer(VisionMambaKind kind) {
  VisionMambaConfig c;
  c.kind = kind;
  c.image_size = 32;
  c.patch_size = 16;
  c.d_model = 16;
  c.depth = 1;
  c.d_state = 4;
  c.expand = kind == VisionMambaKind::Vim ? 2 : 1;
  return c;
}

std::set<std::string> scan_names(const std::string& mixer, const std::vector<std::string>& suffixes) {
  std::set<std::string> out;
  for (const auto& s : suffixes)
    for (const auto& n : {"A" + s + "_log", "D" + s, "conv1d" + s + ".weight", "conv1d" + s + ".bias",
                          "x_proj" + s + ".weight", "dt_proj" + s + ".weight", "dt_proj" + s + ".bias"})
      out.insert(mixer + n);
  out.insert(mixer + "in_proj.weight");
  out.insert(mixer + "out_proj.weight");
  return out;
}

TEST(VisionMamba, VimParameterNamesAreTheCheckpointNames) {
  VisionMambaConfig c = one_layer(VisionMambaKind::Vim);
  c.num_classes = 5;
  VisionMamba model(c);
  std::set<std::string> want = scan_names("layers.0.mixer.", {"", "_b"});
  for (const char* n : {"patch_embed.proj.weight", "patch_embed.proj.bias", "cls_token", "pos_embed",
                        "layers.0.norm.weight", "norm_f.weight", "head.weight", "head.bias"})
    want.insert(n);
  EXPECT_EQ(names_of(model, false), want);
  EXPECT_EQ(model.state_dict().at("pos_embed").shape(), (Shape{1, 5, 16}));
  EXPECT_EQ(model.state_dict().at("layers.0.mixer.conv1d_b.weight").shape(), (Shape{32, 1, 4}));
  EXPECT_EQ(model.state_dict().at("layers.0.mixer.x_proj_b.weight").shape(), (Shape{1 + 8, 32}));
}

TEST(VisionMamba, ArmParameterNamesAreTheCheckpointNames) {
  VisionMamba model(one_layer(VisionMambaKind::Arm));
  std::set<std::string> want = scan_names("layers.0.mixer.", {"", "_b", "_c", "_c_b"});
  for (const char* n :
       {"patch_embed.proj.weight", "patch_embed.proj.bias", "cls_token", "pos_embed", "layers.0.norm1.weight",
        "layers.0.norm1.bias", "layers.0.norm2.weight", "layers.0.norm2.bias", "layers.0.mlp.w1.weight",
        "layers.0.mlp.w1.bias", "layers.0.mlp.w2.weight", "layers.0.mlp.w2.bias", "layers.0.mlp.w3.weight",
        "layers.0.mlp.w3.bias", "norm_f.weight", "norm_f.bias"})
    want.insert(n);
  EXPECT_EQ(names_of(model, false), want);
  EXPECT_EQ(model.state_dict().at("layers.0.mlp.w1.weight").shape(), (Shape{42, 16}));         // 16 * 8 / 3
  EXPECT_EQ(model.state_dict().at("layers.0.mixer.in_proj.weight").shape(), (Shape{32, 16}));  // expand 1
}

TEST(VisionMamba, EveryAdapterSettingAttachesUnderItsLinearAndOnlyAdaptersTrain) {
  VisionMambaConfig c = one_layer(VisionMambaKind::Arm);
  auto& p = c.peft;
  p.lora_p_x = p.lora_p_z = p.lora_p_dt = p.lora_p_b = p.lora_p_c = true;
  p.lora_in_proj = p.lora_x_proj = p.lora_dt_proj = p.lora_out_proj = p.lora_patch_embed = true;
  p.rank = 2;
  VisionMamba model(c);
  std::set<std::string> want;
  auto add = [&](const std::string& linear, const std::string& adapter) {
    want.insert(linear + "." + adapter + ".down.weight");
    want.insert(linear + "." + adapter + ".up.weight");
  };
  add("patch_embed.proj", "lora");
  const std::string m = "layers.0.mixer.";
  for (const char* a : {"lora", "lora_x", "lora_z"}) add(m + "in_proj", a);
  add(m + "out_proj", "lora");
  for (const char* s : {"", "_b", "_c", "_c_b"}) {
    for (const char* a : {"lora", "lora_dt", "lora_b", "lora_c"}) add(m + "x_proj" + s, a);
    add(m + "dt_proj" + s, "lora");
  }
  EXPECT_EQ(names_of(model, true), want);
  const auto sd = model.state_dict();
  EXPECT_EQ(sd.at(m + "in_proj.lora_z.up.weight").shape(), (Shape{16, 2}));    // d_inner rows
  EXPECT_EQ(sd.at(m + "x_proj_c.lora_dt.up.weight").shape(), (Shape{1, 2}));   // dt_rank rows
  EXPECT_EQ(sd.at(m + "x_proj_c_b.lora_c.up.weight").shape(), (Shape{4, 2}));  // N rows
  EXPECT_EQ(sd.at("patch_embed.proj.lora.down.weight").shape(), (Shape{2, 3 * 16 * 16}));
  // dropout as MambaPEFT: on the activation adapters, none on the x_proj / dt_proj ones it merges
  nn::MambaMixer& mixer = *model.mixers()[0];
  EXPECT_EQ(model.patch_embed->proj->lora->dropout(), 0.1);
  for (auto& [name, module] : model.named_modules())
    if (auto* lora = dynamic_cast<nn::LoRA*>(module)) {
      const bool merged = name.find("x_proj") != std::string::npos || name.find("dt_proj") != std::string::npos;
      EXPECT_EQ(lora->dropout(), merged ? 0.0 : 0.1) << name;
    }
  EXPECT_EQ(mixer.scans.size(), 4u);
}

TEST(VisionMamba, PaperSettingTrainsOnlyPartialXAndInProjLora) {
  VisionMambaConfig c = tiny(VisionMambaKind::Vim);
  VisionMamba model(c);
  std::set<std::string> want;
  for (int i = 0; i < 2; ++i)
    for (const char* a : {"lora", "lora_x"})
      for (const char* w : {"down", "up"})
        want.insert("layers." + std::to_string(i) + ".mixer.in_proj." + a + "." + w + ".weight");
  EXPECT_EQ(names_of(model, true), want);
  Tensor tokens = model.forward(testing::rand32({1, 3, 32, 32}, 9));
  EXPECT_EQ(tokens.shape(), (Shape{1, 17, 16}));
  autograd::backward(sum(tokens));
  for (auto& [name, t] : model.named_parameters()) EXPECT_EQ(t.grad().defined(), want.count(name) == 1) << name;

  c.peft.full_finetune = true;
  VisionMamba full(c);
  EXPECT_EQ(names_of(full, true), names_of(full, false));
  VisionMambaConfig frozen = one_layer(VisionMambaKind::Vim);
  EXPECT_TRUE(names_of(VisionMamba(frozen), true).empty());
}

// The paper's setting (LoRA_p(X) and in_proj LoRA) in training with dropout 0.1 and nonzero up
// weights: each frozen in_proj runs with its in_proj LoRA as one lora_linear, forward and backward,
// and the tokens and every adapter gradient equal the composed path's (in_proj's weight trained)
// within float32 rounding, the dropout masks drawn alike.
TEST(VisionMamba, FrozenInProjRunsTheFusedLoraOpAndEqualsTheComposedPath) {
  VisionMambaConfig c = tiny(VisionMambaKind::Vim);
  c.peft.dropout = 0.1;
  Generator gen(12);
  VisionMamba model(c, gen);
  uint64_t seed = 20;
  for (auto& [name, p] : model.named_parameters())
    if (name.ends_with(".up.weight")) copy_into(p, testing::rand32(p.shape(), seed++));
  const Tensor images = testing::rand32({2, 3, 32, 32}, 13), loss_weight = testing::rand32({2, 17, 16}, 14);
  auto forward = [&] { return model.forward(images); };
  const PathResult fused = run_path(model, loss_weight, forward);
  EXPECT_EQ(fused.calls.forward, 2);  // one per layer
  EXPECT_EQ(fused.calls.backward, 2);
  EXPECT_EQ(fused.grads.size(), 8u);  // lora and lora_x, down and up, of 2 layers
  EXPECT_EQ(model.unfreeze(R"(.*\.in_proj\.weight)"), 2);
  const PathResult composed = run_path(model, loss_weight, forward);
  EXPECT_EQ(composed.calls.forward, 0);
  expect_same_results(fused, composed, 1e-6);
}

TEST(VisionMamba, FreshModelsGiveTokensAt192Pixels) {
  for (VisionMambaKind kind : {VisionMambaKind::Vim, VisionMambaKind::Arm}) {
    VisionMambaConfig c = one_layer(kind);
    c.image_size = 192;
    c.peft.lora_p_x = true;
    VisionMamba model(c);
    model.eval();
    Tensor tokens = model.forward(testing::rand32({2, 3, 192, 192}, 10));
    EXPECT_EQ(tokens.shape(), (Shape{2, 145, 16}));
    for (float v : tokens.to_vector<float>()) ASSERT_TRUE(std::isfinite(v));
    EXPECT_EQ(c.class_token_index(), 72);
  }
}

TEST(VisionMamba, BadConfigAndInputAreReported) {
  VisionMambaConfig c = one_layer(VisionMambaKind::Vim);
  c.image_size = 40;
  EXPECT_THROW(VisionMamba{c}, std::invalid_argument);
  c = one_layer(VisionMambaKind::Arm);
  c.image_size = 48;  // 3x3 grid: the class token would not sit at the same place column-major
  EXPECT_THROW(VisionMamba{c}, std::invalid_argument);
  VisionMamba model(one_layer(VisionMambaKind::Vim));
  try {
    model.forward(testing::rand32({1, 3, 48, 48}, 1));
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[1, 3, 48, 48]"), std::string::npos) << e.what();
  }
  EXPECT_EQ(models::parse_vision_mamba_kind("arm"), VisionMambaKind::Arm);
  EXPECT_THROW(models::parse_vision_mamba_kind("vit"), std::invalid_argument);
}

}  // namespace
}  // namespace emrrg
