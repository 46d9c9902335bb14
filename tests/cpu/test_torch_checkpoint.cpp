// torch.save files read without Python: fixtures in tests/fixtures/torch_checkpoints/, written by
// tests/golden/make_torch_checkpoint_fixtures.py. Values must match exactly (the bytes are
// copied, never converted).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "runtime/checkpoint.h"
#include "runtime/safetensors.h"
#include "runtime/torch_checkpoint.h"

namespace emrrg {
namespace {

const std::string kDir = std::string(EMRRG_FIXTURES_DIR) + "/torch_checkpoints/";

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A scratch copy of a fixture with `edit` applied to its bytes.
std::string edited_copy(const std::string& fixture, const std::function<void(std::string&)>& edit) {
  std::string bytes = read_bytes(kDir + fixture);
  edit(bytes);
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("emrrg_test_" + std::to_string(::getpid()) + "_" + fixture)).string();
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

void expect_same_as_expected(const std::map<std::string, Tensor>& got) {
  const SafetensorsFile expected = SafetensorsFile::open(kDir + "expected.safetensors");
  ASSERT_EQ(got.size(), expected.names().size());
  for (const std::string& name : expected.names()) {
    ASSERT_TRUE(got.count(name)) << name;
    const Tensor& t = got.at(name);
    const Tensor want = expected.get(name);
    EXPECT_EQ(t.dtype(), want.dtype()) << name;
    EXPECT_EQ(t.shape(), want.shape()) << name;
    EXPECT_EQ(t.to_vector<double>(), want.to_vector<double>()) << name;
  }
}

TEST(TorchCheckpoint, ReadsEveryDtypeWithItsGeometry) {
  const auto sd = read_checkpoint(kDir + "dtypes.pth");  // {"model": ..., "args": ..., "epoch": 7}
  expect_same_as_expected(sd);
  // shared_a = base[0:6].view(2, 3), shared_b = base[4:12]: one storage, two offsets.
  EXPECT_EQ(sd.at("shared_a").storage(), sd.at("shared_b").storage());
  EXPECT_EQ(sd.at("shared_a").offset(), 0);
  EXPECT_EQ(sd.at("shared_b").offset(), 4);
  EXPECT_EQ(sd.at("shared_a").storage()->nbytes(), 12u * 4);
  // A transposed (5, 3) view of a (3, 5) tensor keeps its strides.
  EXPECT_EQ(sd.at("transposed").strides(), (Strides{1, 5}));
  EXPECT_FALSE(sd.at("transposed").is_contiguous());
  EXPECT_EQ(sd.at("scalar").dim(), 0);
  EXPECT_EQ(sd.at("empty").shape(), (Shape{0, 4}));
}

TEST(TorchCheckpoint, Protocol4ReadsTheSame) { expect_same_as_expected(read_checkpoint(kDir + "dtypes_protocol4.pth")); }

TEST(TorchCheckpoint, NamespaceIsAnInertRecord) {
  const TorchCheckpoint c = TorchCheckpoint::open(kDir + "dtypes.pth");
  const PickleValue* args = c.root().get("args");
  ASSERT_NE(args, nullptr);
  ASSERT_TRUE(args->is(PickleValue::Kind::Object));
  EXPECT_EQ(args->text, "argparse.Namespace");
  ASSERT_NE(args->state, nullptr);
  ASSERT_NE(args->state->get("model"), nullptr);
  EXPECT_EQ(args->state->get("model")->text, "vim_tiny_patch16_224");
  EXPECT_DOUBLE_EQ(args->state->get("lr")->number, 5e-4);
  EXPECT_TRUE(args->state->get("resume")->is(PickleValue::Kind::None));
  EXPECT_EQ(c.root().get("epoch")->integer, 7);
}

TEST(TorchCheckpoint, KeySelectionAndPrefixMapping) {
  CheckpointOptions o;
  o.rename_prefixes = {{"module.", ""}};
  const auto sd = read_checkpoint(kDir + "ddp_state_dict.pth", o);  // found under "state_dict"
  const SafetensorsFile expected = SafetensorsFile::open(kDir + "linear_expected.safetensors");
  ASSERT_EQ(sd.size(), 2u);
  for (const std::string& name : expected.names())
    EXPECT_EQ(sd.at(name).to_vector<float>(), expected.get(name).to_vector<float>()) << name;

  o.exclude = {"bias"};
  EXPECT_EQ(read_checkpoint(kDir + "ddp_state_dict.pth", o).count("bias"), 0u);

  o = {};
  o.key = "optimizer";  // a dict, but not of tensors
  EXPECT_NE(error_of([&] { read_checkpoint(kDir + "ddp_state_dict.pth", o); }).find("is a dict"), std::string::npos);
  o.key = "nope";
  const std::string e = error_of([&] { read_checkpoint(kDir + "ddp_state_dict.pth", o); });
  EXPECT_NE(e.find("no top-level key 'nope'"), std::string::npos) << e;
  EXPECT_NE(e.find("state_dict, optimizer, epoch"), std::string::npos) << e;
}

TEST(TorchCheckpoint, SafetensorsThroughTheSameEntryPoint) {
  expect_same_as_expected(read_checkpoint(kDir + "expected.safetensors"));
  CheckpointOptions o;
  o.key = "model";
  EXPECT_NE(error_of([&] { read_checkpoint(kDir + "expected.safetensors", o); }).find("no nesting"), std::string::npos);
}

// Each fixture would create /tmp/emrrg_pwned_<name> if its pickle were executed.
TEST(TorchCheckpoint, RefusesEveryOtherGlobalAndRunsNothing) {
  const struct {
    const char* file;
    const char* global;
    const char* pwned;
  } cases[] = {
      {"evil_os_system.pth", "'posix.system'", "os_system"},
      {"evil_eval.pth", "'builtins.eval'", "eval"},
      {"evil_exec_reduce.pth", "'builtins.exec'", "exec"},
      {"evil_plain_object.pth", "'__main__.Payload'", "plain_object"},
      {"evil_stack_global.pth", "'posix.system'", "stack_global"},
  };
  for (const auto& c : cases) {
    const std::string pwned = std::string("/tmp/emrrg_pwned_") + c.pwned;
    std::filesystem::remove(pwned);
    const std::string e = error_of([&] { read_checkpoint(kDir + c.file); });
    EXPECT_NE(e.find(std::string("global ") + c.global + " is not allowed"), std::string::npos) << c.file << ": " << e;
    EXPECT_NE(e.find(c.file), std::string::npos) << e;
    EXPECT_FALSE(std::filesystem::exists(pwned)) << c.file;
  }
}

TEST(TorchCheckpoint, DeclaredPlainClassesLoadAsInertObjects) {
  TorchCheckpointOptions o;
  o.inert_classes = {"__main__.Payload"};
  const TorchCheckpoint c = TorchCheckpoint::open(kDir + "evil_plain_object.pth", o);
  const PickleValue* cfg = c.root().get("cfg");
  ASSERT_TRUE(cfg && cfg->is(PickleValue::Kind::Object));
  EXPECT_EQ(cfg->state->get("command")->text, "touch /tmp/emrrg_pwned_plain_object");  // data, never run
  EXPECT_FALSE(std::filesystem::exists("/tmp/emrrg_pwned_plain_object"));
}

TEST(TorchCheckpoint, DeclaredPlainClassesMayBeInstantiatedOrCalled) {
  // A dict subclass (NEWOBJ + SETITEMS) holding a torch.device (REDUCE), and a numpy scalar.
  const std::string path = kDir + "lightning_like.pth";
  std::string e = error_of([&] { read_checkpoint(path); });
  EXPECT_NE(e.find("global '__main__.AttributeDict' is not allowed"), std::string::npos) << e;
  CheckpointOptions o;
  o.inert_classes = {"__main__.AttributeDict", "torch.device", "numpy._core.multiarray.scalar", "numpy.dtype"};
  const auto sd = read_checkpoint(path, o);
  ASSERT_EQ(sd.size(), 1u);
  EXPECT_EQ(sd.at("w").to_vector<float>(), (std::vector<float>{0, 1, 2}));

  const TorchCheckpoint c = TorchCheckpoint::open(path, {o.inert_classes});
  const PickleValue* hyper = c.root().get("hyper_parameters");
  ASSERT_TRUE(hyper && hyper->is(PickleValue::Kind::Object));
  ASSERT_EQ(hyper->entries.size(), 2u);
  EXPECT_DOUBLE_EQ(hyper->get("lr")->number, 0.1);
  const PickleValue* device = hyper->get("device");
  ASSERT_NE(device, nullptr);
  EXPECT_EQ(device->text, "torch.device");
  ASSERT_EQ(device->args.size(), 1u);
  EXPECT_EQ(device->args[0]->text, "cpu");
}

TEST(TorchCheckpoint, BadGeometryIsAnError) {
  std::string e = error_of([&] { read_checkpoint(kDir + "bad_view.pth"); });
  EXPECT_NE(e.find("reaches outside storage '0' of 6 elements"), std::string::npos) << e;
  e = error_of([&] { read_checkpoint(kDir + "bad_storage_size.pth"); });
  EXPECT_NE(e.find("storage '0' of 6 float32 elements has a record of 20 bytes"), std::string::npos) << e;
}

TEST(TorchCheckpoint, LegacyFormatIsRefusedWithAReason) {
  const std::string e = error_of([&] { read_checkpoint(kDir + "legacy.pth"); });
  EXPECT_NE(e.find("legacy torch.save format"), std::string::npos) << e;
  EXPECT_NE(e.find("legacy.pth"), std::string::npos) << e;
}

TEST(TorchCheckpoint, DamagedArchivesGiveErrorsNamingTheFile) {
  const std::string truncated = edited_copy("dtypes.pth", [](std::string& b) { b.resize(b.size() / 2); });
  std::string e = error_of([&] { read_checkpoint(truncated); });
  EXPECT_NE(e.find(truncated), std::string::npos) << e;
  EXPECT_NE(e.find("zip"), std::string::npos) << e;

  // A flipped byte inside the first storage record (data/0 holds f32's six floats) fails its CRC.
  const std::string flipped = edited_copy("dtypes.pth", [](std::string& b) {
    const size_t name = b.find("dtypes/data/0");  // first in its local header, 30 bytes in
    ASSERT_NE(name, std::string::npos);
    auto u16 = [&](size_t at) { return static_cast<size_t>(static_cast<unsigned char>(b[at])) | static_cast<size_t>(static_cast<unsigned char>(b[at + 1])) << 8; };
    const size_t data = name + u16(name - 4) + u16(name - 2);  // after the name and the extra field
    b[data] = static_cast<char>(b[data] ^ 0x40);
  });
  e = error_of([&] { read_checkpoint(flipped); });
  EXPECT_NE(e.find(flipped), std::string::npos) << e;
  EXPECT_NE(e.find("data/0"), std::string::npos) << e;
  EXPECT_NE(e.find("CRC"), std::string::npos) << e;

  const std::string no_directory = edited_copy("dtypes.pth", [](std::string& b) {
    const size_t entry = b.find("PK\x01\x02");  // the first central directory entry
    ASSERT_NE(entry, std::string::npos);
    b[entry + 3] = '\x09';
  });
  e = error_of([&] { read_checkpoint(no_directory); });
  EXPECT_NE(e.find(no_directory), std::string::npos) << e;

  const std::string empty = edited_copy("dtypes.pth", [](std::string& b) { b.clear(); });
  e = error_of([&] { read_checkpoint(empty); });
  EXPECT_NE(e.find(empty), std::string::npos) << e;
  for (const auto& p : {truncated, flipped, no_directory, empty}) std::filesystem::remove(p);
}

// A safetensors header length whose low byte is 0x80 (a pickle's first byte) is still safetensors.
TEST(Checkpoint, SafetensorsWhoseLengthStartsLikeAPickle) {
  const std::string path = (std::filesystem::temp_directory_path() / "emrrg_header_0x80.safetensors").string();
  bool found = false;
  for (size_t n = 1; n < 300 && !found; ++n) {
    save_safetensors(path, {{std::string(n, 'w'), zeros({2})}});
    std::ifstream in(path, std::ios::binary);
    found = in.get() == 0x80;
  }
  ASSERT_TRUE(found);
  const auto state = read_checkpoint(path);
  EXPECT_EQ(state.size(), 1u);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace emrrg
