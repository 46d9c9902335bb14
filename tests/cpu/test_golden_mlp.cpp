// Forward, gradients and three optimiser steps of an MLP against PyTorch
// (tests/fixtures/mlp_golden.safetensors, written by tests/golden/make_mlp_golden.py).
#include <gtest/gtest.h>

#include "models/mlp.h"
#include "ops/ops.h"
#include "runtime/safetensors.h"
#include "test_helpers.h"
#include "train/optimizer.h"

namespace emrrg {
namespace {

SafetensorsFile golden() { return SafetensorsFile::open(std::string(EMRRG_FIXTURES_DIR) + "/mlp_golden.safetensors"); }

void expect_close(const Tensor& a, const Tensor& b, double tol, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  const auto av = a.to_vector<double>(), bv = b.to_vector<double>();
  for (size_t i = 0; i < av.size(); ++i) EXPECT_NEAR(av[i], bv[i], tol) << what << " at " << i;
}

std::unique_ptr<models::MLP> load_model(const SafetensorsFile& f) {
  Generator gen(0);
  auto m = std::make_unique<models::MLP>(5, 8, 3, gen);
  m->load_state_dict(testing::with_prefix(f, "init."));
  return m;
}

TEST(GoldenMLP, ForwardAndGradientsMatchPyTorch) {
  SafetensorsFile f = golden();
  auto model = load_model(f);
  Tensor logits = model->forward(f.get("x"));
  expect_close(logits, f.get("logits"), 1e-6, "logits");
  Tensor loss = cross_entropy(logits, f.get("y"));
  EXPECT_NEAR(loss.item(), f.get("loss").item(), 1e-6);
  autograd::backward(loss);
  for (auto& [name, p] : model->named_parameters()) expect_close(p.grad(), f.get("grad." + name), 1e-6, name);
}

template <typename MakeOpt> void check_three_steps(const std::string& prefix, MakeOpt make_opt) {
  SafetensorsFile f = golden();
  auto model = load_model(f);
  auto opt = make_opt(model->trainable_parameters());
  for (int step = 0; step < 3; ++step) {
    opt.zero_grad();
    autograd::backward(cross_entropy(model->forward(f.get("x")), f.get("y")));
    opt.step();
  }
  for (auto& [name, p] : model->named_parameters()) expect_close(p, f.get(prefix + name), 2e-6, prefix + name);
}

TEST(GoldenMLP, ThreeAdamWStepsMatchPyTorch) {
  check_three_steps("adamw.", [](const std::vector<Tensor>& p) {
    return train::AdamW(p, {1e-2, 0.9, 0.98, 1e-6, 0.1});
  });
}

TEST(GoldenMLP, ThreeSGDStepsMatchPyTorch) {
  check_three_steps("sgd.", [](const std::vector<Tensor>& p) {
    return train::SGD(p, {0.1, 0.9, 0.0, 0.01, true});
  });
}

}  // namespace
}  // namespace emrrg
