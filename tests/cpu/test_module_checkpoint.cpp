// Module::load from torch.save checkpoints: the nested "state_dict" of a DDP-wrapped Linear(4, 3)
// (tests/fixtures/torch_checkpoints/ddp_state_dict.pth, from make_torch_checkpoint_fixtures.py)
// with its "module." prefix mapped away, and strict loading's error listing every bad key and
// hinting at the prefix mapping that would fit the names.
#include <gtest/gtest.h>

#include "nn/layers.h"
#include "nn/state_dict_mismatch.h"
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
  EXPECT_NE(e.find("hint: 2 unexpected keys are missing keys under the prefix 'module.': the prefix rename "
                   "\"module.=\" maps them"),
            std::string::npos)
      << e;

  nn::Linear wrong(3, 4);
  CheckpointOptions o;
  o.rename_prefixes = {{"module.", ""}};
  const std::string m = load_error(wrong, o);
  EXPECT_NE(m.find("mis-shaped keys (2): bias (checkpoint [3], model [4]) weight (checkpoint [3, 4], model [4, 3])"),
            std::string::npos) << m;
}

TEST(StateDictMismatch, HintsAtTheCommonestPrefixEitherWay) {
  // Two of three checkpoint names are the model's under "model.", one under "x.": the commonest wins.
  const std::string strip = nn::describe_state_dict_mismatch({"a.w", "b.w", "c.w"}, {"model.a.w", "model.b.w", "x.c.w"});
  EXPECT_NE(strip.find("hint: 2 unexpected keys are missing keys under the prefix 'model.': the prefix rename "
                       "\"model.=\" maps them"),
            std::string::npos)
      << strip;
  // The model's names carry a prefix the checkpoint lacks.
  const std::string add = nn::describe_state_dict_mismatch({"visual.a.w", "visual.b"}, {"a.w", "b"});
  EXPECT_NE(add.find("hint: 2 missing keys are unexpected keys without the prefix 'visual.': the prefix rename "
                     "\"=visual.\" maps them"),
            std::string::npos)
      << add;
  // Names no prefix relates (a classification head) get the lists and no hint.
  const std::string none = nn::describe_state_dict_mismatch({"norm.weight"}, {"head.weight", "head.bias"});
  EXPECT_EQ(none, "\n  missing keys (1): norm.weight\n  unexpected keys (2): head.weight head.bias");
  EXPECT_EQ(nn::describe_state_dict_mismatch({}, {}, {"w (checkpoint [2], model [3])"}),
            "\n  mis-shaped keys (1): w (checkpoint [2], model [3])");
}

}  // namespace
}  // namespace emrrg
