// The EMRRG network on the (simulated) GPU follows the CPU run: a tiny ARM encoder with Partial
// LoRA and a tiny Llama with hybrid layers, moved to the device with Module::to, gives the CPU's
// loss, every trainable gradient and the weights after one AdamW step (the fused kernel), and the
// CPU's greedy tokens.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "autograd/tape.h"
#include "cuda/cuda_backend.h"
#include "cuda/kernel_registration.h"
#include "models/emrrg/emrrg.h"
#include "models/emrrg/emrrg_step_decoder.h"
#include "ops/ops.h"
#include "runtime/random.h"
#include "tests/cpu/tiny_emrrg.h"
#include "train/optimizer.h"

namespace emrrg {
namespace {

using models::Emrrg;
using models::EmrrgConfig;

// The same random model on every call; the warm-up gates opened so the cross-attention trains.
std::unique_ptr<Emrrg> make_model() {
  const EmrrgConfig c = tiny_emrrg_config(true, true, false);
  Generator gen(7);
  auto model = std::make_unique<Emrrg>(c, std::make_shared<models::Llama>(c.llm, gen), models::PromptTokens{1, {5, 6}, {7}}, gen);
  for (const auto& h : model->hybrid_layers) fill(h->warm_up_gate, 0.5);
  return model;
}

struct Batch {
  Tensor images, report_ids, report_mask;  // [2, 2, 3, 16, 16], [2, 5], [2, 5]
};

Batch make_batch() {
  Generator gen(3);
  Batch b;
  b.images = randn({2, 2, 3, 16, 16}, 0, 1, gen);
  b.report_ids = from_vector<int64_t>({9, 12, 30, 2, 0, 4, 17, 2, 0, 0}, {2, 5});
  b.report_mask = from_vector<float>({1, 1, 1, 1, 0, 1, 1, 1, 0, 0}, {2, 5});
  return b;
}

Batch to_device(const Batch& b, Device d) { return {to_device(b.images, d), to_device(b.report_ids, d), to_device(b.report_mask, d)}; }

// max |a - b| / max(max |b|, 1e-6), both brought to the CPU in float64.
double relative_error(const Tensor& a, const Tensor& b) {
  const auto x = cast(to_device(a, Device::cpu()), DType::Float64).to_vector<double>();
  const auto y = cast(to_device(b, Device::cpu()), DType::Float64).to_vector<double>();
  EXPECT_EQ(x.size(), y.size());
  double err = 0, scale = 1e-6;
  for (size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
    err = std::max(err, std::abs(x[i] - y[i]));
    scale = std::max(scale, std::abs(y[i]));
  }
  return err / scale;
}

class EmrrgOnDevice : public ::testing::Test {
 protected:
  void SetUp() override {
    cuda::register_cuda_backend();
    cuda::register_cuda_kernels();
  }
};

// Loss within 1e-5 relative, each gradient and each updated weight within 1e-4 of its largest
// magnitude (float32 on both sides; the kernels sum in other orders than the CPU).
TEST_F(EmrrgOnDevice, LossGradientsAndAdamWStepFollowTheCpu) {
  auto cpu = make_model();
  auto gpu = make_model();
  gpu->to(Device::cuda(0));
  for (const auto& [name, p] : gpu->named_parameters()) ASSERT_TRUE(p.device() == Device::cuda(0)) << name;
  const Batch b = make_batch();
  const Batch bd = to_device(b, Device::cuda(0));

  const train::AdamWOptions opt{1e-2, 0.9, 0.999, 1e-8, 0.01};
  train::AdamW cpu_opt(cpu->trainable_parameters(), opt);
  train::AdamW gpu_opt(gpu->trainable_parameters(), opt);
  // One graph at a time: backward consumes the whole (thread's) tape.
  Tensor cpu_loss = cpu->loss(b.images, b.report_ids, b.report_mask);
  autograd::backward(cpu_loss);
  Tensor gpu_loss = gpu->loss(bd.images, bd.report_ids, bd.report_mask);
  autograd::backward(gpu_loss);
  const double want = cpu_loss.to_vector<double>()[0];
  EXPECT_NEAR(to_device(gpu_loss, Device::cpu()).to_vector<double>()[0], want, 1e-5 * std::abs(want));

  const auto cpu_params = cpu->named_parameters();
  const auto gpu_params = gpu->named_parameters();
  ASSERT_EQ(cpu_params.size(), gpu_params.size());
  size_t trained = 0;
  for (size_t i = 0; i < cpu_params.size(); ++i) {
    const auto& [name, p] = cpu_params[i];
    const Tensor& q = gpu_params[i].second;
    ASSERT_EQ(gpu_params[i].first, name);
    ASSERT_EQ(q.requires_grad(), p.requires_grad()) << name;
    if (!p.requires_grad()) continue;
    ASSERT_TRUE(p.grad().defined()) << name;
    if (!q.grad().defined()) {
      ADD_FAILURE() << name << " got no gradient on the device";
      continue;
    }
    EXPECT_TRUE(q.grad().device() == Device::cuda(0)) << name;
    EXPECT_LE(relative_error(q.grad(), p.grad()), 1e-4) << name;
    ++trained;
  }
  EXPECT_GT(trained, 10u);

  // AdamW's first step moves each element by about lr times the sign of its gradient, so an
  // element whose gradient is rounding noise (the keys' bias of attention: exactly 0 in exact
  // arithmetic) may move either way; those elements are left out of the comparison.
  std::vector<std::vector<double>> grads(cpu_params.size());
  for (size_t i = 0; i < cpu_params.size(); ++i)
    if (cpu_params[i].second.requires_grad())
      grads[i] = cast(cpu_params[i].second.grad(), DType::Float64).to_vector<double>();
  cpu_opt.step();
  gpu_opt.step();
  for (size_t i = 0; i < cpu_params.size(); ++i) {
    const auto want_w = cast(cpu_params[i].second, DType::Float64).to_vector<double>();
    const auto got_w = cast(to_device(gpu_params[i].second, Device::cpu()), DType::Float64).to_vector<double>();
    double gmax = 0, wmax = 1e-6, err = 0;
    for (double g : grads[i]) gmax = std::max(gmax, std::abs(g));
    for (size_t j = 0; j < want_w.size(); ++j) {
      wmax = std::max(wmax, std::abs(want_w[j]));
      if (grads[i].empty() || std::abs(grads[i][j]) > 1e-4 * gmax) err = std::max(err, std::abs(got_w[j] - want_w[j]));
    }
    EXPECT_LE(err, 1e-4 * wmax) << cpu_params[i].first;
  }
}

// The fused kernel updates the float32 master of a bfloat16 parameter: 50 steps of about 1e-4 that
// rounding into bfloat16 would lose add up on the device as on the CPU.
TEST_F(EmrrgOnDevice, AdamWMasterWeightsOnTheDeviceFollowTheCpu) {
  std::vector<float> masters[2], params[2];
  for (const bool device : {false, true}) {
    const Device d = device ? Device::cuda(0) : Device::cpu();
    Tensor p = to_device(from_vector<float>({1.0f, -0.5f, 3.0f}, {3}, DType::BFloat16), d);
    p.set_requires_grad();
    train::AdamWOptions o{1e-4, 0.9, 0.999, 1e-8, 0.1};
    o.master_weights = true;
    train::AdamW opt({p}, o);
    for (int step = 0; step < 50; ++step) {
      p.set_grad(to_device(from_vector<float>({1.0f, -2.0f, 0.25f}, {3}, DType::BFloat16), d));
      opt.step();
    }
    ASSERT_EQ(opt.masters()[0].device(), d);
    EXPECT_EQ(opt.masters()[0].dtype(), DType::Float32);
    EXPECT_EQ(p.dtype(), DType::BFloat16);
    masters[device] = to_device(opt.masters()[0], Device::cpu()).to_vector<float>();
    params[device] = to_device(p, Device::cpu()).to_vector<float>();
  }
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(masters[1][i], masters[0][i], 1e-6) << i;
  EXPECT_EQ(params[1], params[0]);
  EXPECT_NEAR(masters[0][0], 1.0f - 50 * 1e-4f * (1 + 0.1f), 2e-5);  // the update and decoupled decay, in float32
}

TEST_F(EmrrgOnDevice, GreedyGenerationGivesTheCpuTokens) {
  auto cpu = make_model();
  auto gpu = make_model();
  cpu->eval();
  gpu->eval();
  gpu->to(Device::cuda(0));
  generation::GenerationConfig g;
  g.max_new_tokens = 5;
  const Batch b = make_batch();
  const auto want = models::generate_reports(*cpu, b.images, g);
  const auto got = models::generate_reports(*gpu, to_device(b.images, Device::cuda(0)), g);
  ASSERT_EQ(got.size(), want.size());
  for (size_t r = 0; r < want.size(); ++r) {
    EXPECT_EQ(want[r].tokens.size(), 5u);
    EXPECT_EQ(got[r].tokens, want[r].tokens) << "study " << r;
  }
}

}  // namespace
}  // namespace emrrg
