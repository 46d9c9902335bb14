// `emrrg encode` and what it is made of: the [vision] TOML table, the checkpoint loading and the
// image encoding, against tests/fixtures/encode/ (written by tests/golden/make_encode_golden.py:
// tiny Vim and ARM checkpoints saved by torch.save with mixed dtypes, a shared storage, transposed
// views and an args Namespace, and the script's features of two phantom images, float64).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "models/vision_mamba/vision_config_toml.h"
#include "runtime/safetensors.h"
#include "train/image_encoding.h"

namespace emrrg {
namespace {

const std::string kDir = std::string(EMRRG_FIXTURES_DIR) + "/encode/";
const std::vector<std::string> kImages = {kDir + "phantom_a.png", kDir + "phantom_b.png"};
// float32 against the script's float64: the largest difference over the largest |feature|
// (about 3). Measured: 5.0e-7 (Vim) and 4.5e-7 (ARM).
constexpr double kRelTol = 1e-5;

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("emrrg_test_" + std::to_string(::getpid()) + "_" + name)).string();
}

// Largest |a - b| over largest |b|.
double relative_error(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    diff = std::max(diff, std::fabs(x[i] - y[i]));
    scale = std::max(scale, std::fabs(y[i]));
  }
  return diff / scale;
}

Tensor expected_features(const std::string& kind) {
  return SafetensorsFile::open(kDir + kind + "_features.safetensors").get("features");
}

// The options each released layout needs: Vim's classifier head is not part of the encoder, ARM's
// names carry DistributedDataParallel's "module." prefix.
CheckpointOptions checkpoint_options(const std::string& kind) {
  CheckpointOptions o;
  if (kind == "vim") o.exclude = {"head\\..*"};
  if (kind == "arm") o.rename_prefixes = {{"module.", ""}};
  return o;
}

TEST(Encode, TorchCheckpointsReproduceTheScriptsFeatures) {
  for (const std::string kind : {"vim", "arm"}) {
    const models::VisionMambaConfig config = models::load_vision_config(kDir + kind + "_tiny.toml");
    models::VisionMamba encoder(config);
    encoder.load(kDir + kind + "_tiny.pth", checkpoint_options(kind));
    const Tensor features = train::encode_image_files(encoder, kImages, /*batch_size=*/1);
    EXPECT_EQ(features.shape(), (Shape{2, 17, config.d_model})) << kind;
    EXPECT_LT(relative_error(features, expected_features(kind)), kRelTol) << kind;
  }
}

TEST(Encode, StrictLoadNamesTheHeadTheEncoderLacks) {
  models::VisionMamba encoder(models::load_vision_config(kDir + "vim_tiny.toml"));
  try {
    encoder.load(kDir + "vim_tiny.pth");
    FAIL() << "the classifier head loaded into an encoder without one";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("unexpected keys (2): head.bias head.weight"), std::string::npos) << e.what();
  }
}

int run_cli(const std::string& args) { return std::system((std::string(EMRRG_BINARY) + " encode " + args + " > /dev/null 2>&1").c_str()); }

TEST(Encode, CommandLineWritesTheFeatures) {
  const std::string out = temp_path("vim_features.safetensors");
  ASSERT_EQ(run_cli("--config " + kDir + "vim_tiny.toml --weights " + kDir + "vim_tiny.pth --out " + out +
                    " --exclude 'head\\..*' " + kImages[0] + " " + kImages[1]),  // the images stay positional
            0);
  EXPECT_LT(relative_error(SafetensorsFile::open(out).get("features"), expected_features("vim")), kRelTol);

  // ARM with --rename, the images in two batches of one.
  ASSERT_EQ(run_cli("--config " + kDir + "arm_tiny.toml --weights " + kDir + "arm_tiny.pth --rename module.= --batch 1 "
                    "--out " + out + " " + kImages[0] + " " + kImages[1]),
            0);
  EXPECT_LT(relative_error(SafetensorsFile::open(out).get("features"), expected_features("arm")), kRelTol);
  std::filesystem::remove(out);
}

TEST(Encode, RandomInitEncodesPhantomImagesWithEitherKind) {
  const std::string out = temp_path("random.safetensors");
  for (const std::string kind : {"vim", "arm"}) {
    ASSERT_EQ(run_cli("--config " + kDir + kind + "_tiny.toml --random-init --seed 3 --out " + out + " " + kImages[0] +
                      " " + kImages[1]),
              0)
        << kind;
    const Tensor features = SafetensorsFile::open(out).get("features");
    EXPECT_EQ(features.shape(), (Shape{2, 17, kind == "vim" ? 16 : 24})) << kind;
    for (double v : features.to_vector<double>()) ASSERT_TRUE(std::isfinite(v)) << kind;
    // The same seed builds the same model.
    Generator gen(3);
    models::VisionMamba encoder(models::load_vision_config(kDir + kind + "_tiny.toml"), gen);
    EXPECT_EQ(train::encode_image_files(encoder, kImages).to_vector<float>(), features.to_vector<float>()) << kind;
  }
  std::filesystem::remove(out);
  EXPECT_NE(run_cli("--config " + kDir + "vim_tiny.toml --out " + out + " " + kImages[0]), 0);  // no weights
}

std::string config_error(const std::string& toml) {
  const std::string path = temp_path("config.toml");
  std::ofstream(path) << toml;
  std::string message;
  try {
    models::load_vision_config(path);
  } catch (const std::runtime_error& e) {
    message = e.what();
  }
  std::filesystem::remove(path);
  return message;
}

TEST(Encode, VisionTableReadsEveryFieldAndNamesBadKeys) {
  const std::string path = temp_path("full.toml");
  std::ofstream(path) << "[train]\nsteps = 3\n[vision]\nkind = \"arm\"\nimage_size = 192\nd_model = 64\ndepth = 3\n"
                         "d_state = 4\nnorm_eps = 1e-6\ndtype = \"bfloat16\"\nnum_classes = 2\n"
                         "[vision.peft]\nlora_p_b = true\nlora_out_proj = true\nrank = 8\nscale = 2\ndropout = 0.25\n";
  const models::VisionMambaConfig c = models::load_vision_config(path);
  std::filesystem::remove(path);
  EXPECT_EQ(c.kind, models::VisionMambaKind::Arm);
  EXPECT_EQ(c.image_size, 192);
  EXPECT_EQ(c.patch_size, 16);  // ARM base's preset where the table says nothing
  EXPECT_EQ(c.expand, 1);
  EXPECT_EQ(c.d_model, 64);
  EXPECT_EQ(c.depth, 3);
  EXPECT_EQ(c.d_state, 4);
  EXPECT_EQ(c.num_classes, 2);
  EXPECT_DOUBLE_EQ(c.norm_eps, 1e-6);
  EXPECT_EQ(c.dtype, DType::BFloat16);
  EXPECT_TRUE(c.peft.lora_p_b && c.peft.lora_out_proj && !c.peft.lora_p_x);
  EXPECT_EQ(c.peft.rank, 8);
  EXPECT_DOUBLE_EQ(c.peft.scale, 2.0);
  EXPECT_DOUBLE_EQ(c.peft.dropout, 0.25);

  const struct {
    const char* toml;
    const char* message;
  } cases[] = {
      {"[vision]\nkind = \"vim\"\nd_modle = 3\n", "line 3: [vision] d_modle is not a known key (known: channels, d_model"},
      {"[vision]\nkind = \"vim\"\ndepth = \"two\"\n", "line 3: [vision] depth must be an integer, got a string"},
      {"[vision]\nkind = \"vim\"\nnorm_eps = true\n", "[vision] norm_eps must be a number, got a boolean"},
      {"[vision]\nkind = \"mamba\"\n", "[vision] kind 'mamba' is not \"vim\" or \"arm\""},
      {"[vision]\nd_model = 3\n", "[vision] has no kind"},
      {"[vision]\nkind = \"vim\"\ndtype = \"int8\"\n", "[vision] dtype 'int8' is not float32"},
      {"[vision]\nkind = \"vim\"\n[vision.peft]\nlora_q = true\n", "line 4: [vision.peft] lora_q is not a known key"},
      {"[vision]\nkind = \"vim\"\n[vision.peft]\nrank = 1.5\n", "[vision.peft] rank must be an integer"},
      {"[vision]\nkind = \"vim\"\npeft = 3\n", "[vision] peft must be a table"},
      {"[vision]\nkind = \"vim\"\nimage_size = 100\n", "image_size 100 is not a multiple of patch_size 16"},
      {"[decoder]\nx = 1\n", "has no [vision] table"},
      {"[vision\nkind = 1\n", "line 1"},
  };
  for (const auto& c : cases) {
    const std::string e = config_error(c.toml);
    EXPECT_NE(e.find(c.message), std::string::npos) << "expected '" << c.message << "', got '" << e << "'";
    EXPECT_NE(e.find("config.toml"), std::string::npos) << e;
  }
}

}  // namespace
}  // namespace emrrg
