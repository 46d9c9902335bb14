#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "models/mlp.h"
#include "nn/layers.h"
#include "ops/ops.h"
#include "runtime/safetensors.h"

namespace emrrg {
namespace {

class Block : public nn::Module {
 public:
  explicit Block(Generator& gen)
      : proj(register_module("proj", std::make_shared<nn::Linear>(4, 6, true, gen))),
        norm(register_module("norm", std::make_shared<nn::RMSNorm>(6))),
        emb(register_module("emb", std::make_shared<nn::Embedding>(10, 4, gen))),
        ln(register_module("ln", std::make_shared<nn::LayerNorm>(6))),
        drop(register_module("drop", std::make_shared<nn::Dropout>(0.5, gen))) {}
  Tensor forward(const Tensor& ids) { return drop->forward(ln->forward(norm->forward(proj->forward(emb->forward(ids))))); }
  std::shared_ptr<nn::Linear> proj;
  std::shared_ptr<nn::RMSNorm> norm;
  std::shared_ptr<nn::Embedding> emb;
  std::shared_ptr<nn::LayerNorm> ln;
  std::shared_ptr<nn::Dropout> drop;
};

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("emrrg_module_" + std::to_string(::getpid()) + name)).string();
}

TEST(Module, NamesCountsAndFreezing) {
  Generator gen(1);
  Block b(gen);
  std::vector<std::string> names;
  for (auto& [n, t] : b.named_parameters()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"proj.weight", "proj.bias", "norm.weight", "emb.weight", "ln.weight",
                                             "ln.bias"}));
  EXPECT_EQ(b.num_parameters(), 24 + 6 + 6 + 40 + 6 + 6);
  EXPECT_EQ(b.freeze(".*"), 6);
  EXPECT_EQ(b.num_parameters(true), 0);
  EXPECT_EQ(b.unfreeze("proj\\..*|.*norm.*"), 3);
  EXPECT_EQ(b.num_parameters(true), 24 + 6 + 6);
  EXPECT_THROW(b.freeze("("), std::invalid_argument);
  // Frozen parameters receive no gradient.
  Tensor out = sum(b.forward(from_vector<int64_t>({1, 2}, {2})));
  autograd::backward(out);
  EXPECT_TRUE(b.proj->weight.grad().defined());
  EXPECT_FALSE(b.emb->weight.grad().defined());
}

TEST(Module, TrainEvalReachesSubmodules) {
  Generator gen(2);
  Block b(gen);
  Tensor ids = from_vector<int64_t>({3, 4, 5}, {3});
  b.eval();
  EXPECT_FALSE(b.drop->is_training());
  autograd::NoGradGuard g;
  EXPECT_EQ(b.forward(ids).to_vector<float>(), b.forward(ids).to_vector<float>());  // no dropout in eval
  b.train();
  EXPECT_TRUE(b.drop->is_training());
}

TEST(Module, StateDictRoundTripThroughSafetensors) {
  Generator g1(3), g2(4);
  Block a(g1), b(g2);
  const std::string path = temp_path("state.safetensors");
  a.save(path);
  b.load(path);
  for (auto& [n, t] : a.named_parameters())
    EXPECT_EQ(t.to_vector<float>(), b.state_dict().at(n).to_vector<float>()) << n;
  std::remove(path.c_str());
}

TEST(Module, StrictLoadingListsEveryProblem) {
  Generator gen(5);
  Block b(gen);
  auto state = b.state_dict();
  state.erase("norm.weight");
  state["extra.weight"] = zeros({2});
  state["proj.bias"] = zeros({7});
  try {
    b.load_state_dict(state);
    FAIL() << "strict load accepted a bad state dict";
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("missing keys (1): norm.weight"), std::string::npos) << m;
    EXPECT_NE(m.find("unexpected keys (1): extra.weight"), std::string::npos) << m;
    EXPECT_NE(m.find("proj.bias (checkpoint [7], model [6])"), std::string::npos) << m;
  }
  state["proj.bias"] = ones({6}, DType::BFloat16);  // dtype converts on load
  b.load_state_dict(state, /*strict=*/false);
  EXPECT_EQ(b.proj->bias.to_vector<float>(), std::vector<float>(6, 1.0f));
  EXPECT_EQ(b.proj->bias.dtype(), DType::Float32);
}

TEST(Module, LinearInitialisationBounds) {
  Generator gen(6);
  nn::Linear l(100, 50, true, gen);
  for (float v : l.weight.to_vector<float>()) ASSERT_LE(std::abs(v), 0.1f);
  for (float v : l.bias.to_vector<float>()) ASSERT_LE(std::abs(v), 0.1f);
}

}  // namespace
}  // namespace emrrg
