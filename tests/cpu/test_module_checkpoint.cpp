// Module::load from torch.save checkpoints: the nested "state_dict" of a DDP-wrapped Linear(4, 3)
// (tests/fixtures/torch_checkpoints/ddp_state_dict.pth, from make_torch_checkpoint_fixtures.py)
// with its "module." prefix mapped away, and strict loading's error listing every bad key.
#include <gtest/gtest.h>

#include "nn/layers.h"
#include "runtime/safetensors.h"

namespace emrrg {
namespace {

const std::string kDir = std::string(EMRRG_FIXTURES_DIR) + "/torch_checkpoints/";

std::string load_error(nn::Module& m, const CheckpointOptions& o) {
  try {
    m.load(kDir + "ddp_state_dict.pth", o);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(ModuleCheckpoint, LoadsANestedTorchCheckpointWithPrefixMapping) {
  nn::Linear linear(4, 3);
  CheckpointOptions o;
  o.rename_prefixes = {{"module.", ""}};
  linear.load(kDir + "ddp_state_dict.pth", o);
  const SafetensorsFile expected = SafetensorsFile::open(kDir + "linear_expected.safetensors");
  EXPECT_EQ(linear.weight.to_vector<float>(), expected.get("weight").to_vector<float>());
  EXPECT_EQ(linear.bias.to_vector<float>(), expected.get("bias").to_vector<float>());
}

TEST(ModuleCheckpoint, StrictLoadListsMissingUnexpectedAndMisshapedKeys) {
  nn::Linear linear(4, 3);
  const std::string e = load_error(linear, {});  // no mapping: every name differs
  EXPECT_NE(e.find("ddp_state_dict.pth"), std::string::npos) << e;
  EXPECT_NE(e.find("missing keys (2): bias weight"), std::string::npos) << e;
  EXPECT_NE(e.find("unexpected keys (2): module.bias module.weight"), std::string::npos) << e;

  nn::Linear wrong(3, 4);
  CheckpointOptions o;
  o.rename_prefixes = {{"module.", ""}};
  const std::string m = load_error(wrong, o);
  EXPECT_NE(m.find("mis-shaped keys (2): bias (checkpoint [3], model [4]) weight (checkpoint [3, 4], model [4, 3])"),
            std::string::npos) << m;
}

}  // namespace
}  // namespace emrrg
