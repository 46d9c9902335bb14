// Mamba's implicit attention and `emrrg inspect` (docs/mamba/): alpha reproduces the selective
// scan's output for every scan of the Vim ("v2") and ARM ("v3") mixers, and, taken back to token
// order and combined over the scans as the mixer combines them, the mixer's output.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "autograd/tape.h"
#include "models/vision_mamba/vision_config_toml.h"
#include "ops/elementwise.h"
#include "ops/scan_attention.h"
#include "ops/selective_scan.h"
#include "test_helpers.h"
#include "train/data/image_io.h"
#include "train/data/image_transform.h"
#include "train/data/phantom_renderer.h"
#include "train/encoder_inspection.h"
#include "train/inspect_figures.h"

namespace emrrg {
namespace {

// float64 alpha against the float32 scan: max |a - b| over max |b|.
constexpr double kRelTol = 1e-5;

double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double err = 0, scale = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    err = std::max(err, std::fabs(a[i] - b[i]));
    scale = std::max(scale, std::fabs(b[i]));
  }
  return err / scale;
}

double silu(double v) { return v / (1 + std::exp(-v)); }

// L = 65 = 8 x 8 + 1 tokens: a square grid with a middle class token for v3, and one position
// past the CPU scan's 64-step chunk, so the carried state is part of what alpha must reproduce.
struct MixerRun {
  nn::MambaMixer mixer;
  Tensor h, out;
  std::vector<nn::ScanObservation> scans;

  explicit MixerRun(nn::BiMamba mode) : mixer(config(mode)) {
    h = testing::rand32({2, 65, 8}, 11);
    mixer.set_scan_observer([this](const nn::ScanObservation& s) { scans.push_back(s); });
    autograd::NoGradGuard no_grad;
    out = mixer.forward(h);
  }
  static nn::MambaMixerConfig config(nn::BiMamba mode) {
    nn::MambaMixerConfig c;
    c.d_model = 8;
    c.d_state = 4;
    c.bimamba = mode;
    return c;
  }
};

TEST(ImplicitAttention, ReproducesEveryScansOutput) {
  for (nn::BiMamba mode : {nn::BiMamba::V2, nn::BiMamba::V3}) {
    MixerRun run(mode);
    ASSERT_EQ(run.scans.size(), mode == nn::BiMamba::V2 ? 2u : 4u);
    for (const nn::ScanObservation& s : run.scans) {
      const int64_t batch = s.u.size(0), dim = s.u.size(1), L = s.u.size(2);
      std::vector<int64_t> rows(static_cast<size_t>(L));
      for (int64_t t = 0; t < L; ++t) rows[t] = t;
      const std::vector<double> alpha =
          scan_attention(s.delta, s.A, s.B, s.C, s.delta_bias, true, rows).to_vector<double>();
      const std::vector<double> u = s.u.to_vector<double>(), z = s.z.to_vector<double>(), D = s.D.to_vector<double>();
      // out_t = (sum_s alpha[t, s] u_s + D u_t) * silu(z_t)
      std::vector<double> y(u.size());
      for (int64_t r = 0; r < batch * dim; ++r)
        for (int64_t t = 0; t < L; ++t) {
          double sum = D[r % dim] * u[r * L + t];
          for (int64_t j = 0; j < L; ++j) sum += alpha[(r * L + t) * L + j] * u[r * L + j];
          y[r * L + t] = sum * silu(z[r * L + t]);
        }
      EXPECT_LT(relative_error(y, s.out.to_vector<double>()), kRelTol) << "scan " << s.scan;
      for (int64_t r = 0; r < batch * dim; ++r)  // causal: no weight on later positions
        for (int64_t t = 0; t < L; ++t)
          for (int64_t j = t + 1; j < L; ++j) ASSERT_EQ(alpha[(r * L + t) * L + j], 0.0);
    }
  }
}

TEST(ImplicitAttention, CombinedInTokenOrderReproducesTheMixer) {
  for (nn::BiMamba mode : {nn::BiMamba::V2, nn::BiMamba::V3}) {
    MixerRun run(mode);
    const int64_t batch = 2, dim = run.mixer.config().d_inner(), L = 65;
    std::vector<int64_t> tokens(static_cast<size_t>(L));
    for (int64_t t = 0; t < L; ++t) tokens[t] = t;
    // y[b, t, d]: the mixer's input to out_proj, from every scan's token-order alpha.
    std::vector<double> y(static_cast<size_t>(batch * L * dim), 0.0);
    for (const nn::ScanObservation& s : run.scans) {
      const std::vector<int64_t> order = train::scan_token_order(mode, s.scan, L);
      const std::vector<double> alpha = train::token_attention(s, order, tokens).to_vector<double>();
      const std::vector<double> u = s.u.to_vector<double>(), z = s.z.to_vector<double>(), D = s.D.to_vector<double>();
      std::vector<double> u_tok(u.size()), z_tok(z.size());
      for (int64_t r = 0; r < batch * dim; ++r)
        for (int64_t j = 0; j < L; ++j) {
          u_tok[r * L + order[j]] = u[r * L + j];
          z_tok[r * L + order[j]] = z[r * L + j];
        }
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t d = 0; d < dim; ++d) {
          const int64_t r = b * dim + d;
          for (int64_t t = 0; t < L; ++t) {
            double sum = D[d] * u_tok[r * L + t];
            for (int64_t j = 0; j < L; ++j) sum += alpha[(r * L + t) * L + j] * u_tok[r * L + j];
            y[(b * L + t) * dim + d] += sum * silu(z_tok[r * L + t]) / static_cast<double>(run.scans.size());
          }
        }
    }
    autograd::NoGradGuard no_grad;
    const Tensor out = run.mixer.out_proj->forward(from_vector(y, {batch, L, dim}, DType::Float32));
    EXPECT_LT(relative_error(out.to_vector<double>(), run.out.to_vector<double>()), kRelTol)
        << (mode == nn::BiMamba::V2 ? "v2" : "v3");
  }
}

// The state norm's last value is the norm of selective_scan's last state (batch row 0), and the
// mean delta is the channels' mean of softplus(delta + delta_bias).
TEST(Inspect, ScanMapsAgreeWithTheScan) {
  MixerRun run(nn::BiMamba::V2);
  ASSERT_EQ(run.scans.size(), 2u);
  for (const nn::ScanObservation& s : run.scans) {
    const train::ScanMaps maps = train::scan_maps(s);
    const int64_t dim = s.u.size(1), L = s.u.size(2), N = s.A.size(1);
    const std::vector<double> last =
        selective_scan(s.u, s.delta, s.A, s.B, s.C, s.D, s.z, s.delta_bias, true).last_state.to_vector<double>();
    double squares = 0;
    for (int64_t k = 0; k < dim * N; ++k) squares += last[k] * last[k];  // batch row 0
    EXPECT_NEAR(maps.state_norm[L - 1], std::sqrt(squares), 1e-5 * std::sqrt(squares)) << "scan " << s.scan;
    const std::vector<double> raw = s.delta.to_vector<double>(), bias = s.delta_bias.to_vector<double>();
    for (int64_t t : {int64_t{0}, L / 2, L - 1}) {
      double mean = 0;
      for (int64_t d = 0; d < dim; ++d) mean += std::log1p(std::exp(raw[d * L + t] + bias[d])) / static_cast<double>(dim);
      EXPECT_NEAR(maps.mean_delta[t], mean, 1e-9) << "scan " << s.scan << " t " << t;
    }
  }
}

TEST(ImplicitAttention, ScanOrdersCoverEveryTokenOnce) {
  // v3 over a 2 x 2 grid, the class token at 2: grid cell (r, c) is token r * 2 + c, past the class token + 1.
  EXPECT_EQ(train::scan_token_order(nn::BiMamba::V3, 0, 5), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(train::scan_token_order(nn::BiMamba::V3, 1, 5), (std::vector<int64_t>{4, 3, 2, 1, 0}));
  EXPECT_EQ(train::scan_token_order(nn::BiMamba::V3, 2, 5), (std::vector<int64_t>{0, 3, 2, 1, 4}));
  EXPECT_EQ(train::scan_token_order(nn::BiMamba::V3, 3, 5), (std::vector<int64_t>{4, 1, 2, 3, 0}));
  EXPECT_THROW(train::scan_token_order(nn::BiMamba::V2, 2, 5), std::out_of_range);
}

TEST(ImplicitAttention, BadArgumentsAreNamed) {
  const Tensor delta = testing::rand32({1, 2, 5}, 1), A = testing::rand32({2, 3}, 2), B = testing::rand32({1, 3, 5}, 3);
  try {
    scan_attention(delta, A, B, testing::rand32({1, 3, 4}, 4), Tensor(), true, {0});
    FAIL() << "a C of the wrong length was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("C [1, 3, 4]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(scan_attention(delta, A, B, B, Tensor(), true, {5}), std::invalid_argument);
  const nn::ScanObservation scan{0, Tensor(), delta, A, B, B, Tensor(), Tensor(), Tensor(), Tensor()};
  EXPECT_THROW(train::token_attention(scan, {0, 1, 1, 3, 4}, {0}), std::invalid_argument);  // token 1 twice
  EXPECT_THROW(train::token_attention(scan, {0, 1, 2, 3, 5}, {0}), std::invalid_argument);  // no token 5
  EXPECT_THROW(train::token_attention(scan, {0, 1, 2, 3, 4}, {5}), std::out_of_range);
}

// ---- emrrg inspect: the figures of a phantom radiograph ----

const std::string kEncodeDir = std::string(EMRRG_FIXTURES_DIR) + "/encode/";

std::filesystem::path temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("emrrg_test_" + std::to_string(::getpid()) + "_" + name);
  std::filesystem::remove_all(dir);
  return dir;
}

data::Image phantom(int size) {
  data::Rng rng(5);
  const data::PhantomFindings findings;
  return data::render_frontal(findings, data::sample_anatomy(rng, findings), size, rng);
}

// A figure is the expected size, drawn (not one colour), and shows the colour map over the grey
// image: most of each panel's pixels coloured (channels apart), not grey.
void expect_sane_figure(const std::string& path, int panels) {
  const data::Image im = data::read_image(path);
  ASSERT_EQ(im.channels, 3) << path;
  EXPECT_GE(im.width, panels * 256) << path;  // 32-pixel images drawn 8x: panels of 256
  EXPECT_GE(im.height, 256) << path;
  EXPECT_LT(im.height, 256 + 100) << path;
  int64_t tinted = 0, lo = 255, hi = 0;
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x) {
      const int r = im.at(x, y, 0), g = im.at(x, y, 1), b = im.at(x, y, 2);
      lo = std::min<int64_t>(lo, g);
      hi = std::max<int64_t>(hi, g);
      if (std::max({r, g, b}) - std::min({r, g, b}) > 40) ++tinted;
    }
  EXPECT_GT(hi - lo, 100) << path;
  EXPECT_GT(tinted, panels * 256 * 256 / 2) << path;
}

TEST(Inspect, PhantomFiguresForEveryLayerAndDirection) {
  for (const std::string kind : {"vim", "arm"}) {
    const models::VisionMambaConfig config = models::load_vision_config(kEncodeDir + kind + "_tiny.toml");
    models::VisionMamba encoder(config);  // random init
    const data::Image image = phantom(96);
    Tensor input = empty({1, 3, config.image_size, config.image_size});
    data::ImageTransform(data::ImageTransformConfig{static_cast<int>(config.image_size)}).apply(image, input.data<float>());
    const std::vector<int64_t> queries = {config.class_token_index(), train::patch_token(config, 3, 0)};
    const train::Inspection inspection = train::inspect_encoder(encoder, input, queries);
    const size_t scans = kind == "vim" ? 2 : 4;
    ASSERT_EQ(inspection.layers.size(), static_cast<size_t>(config.depth));
    for (const train::LayerMaps& layer : inspection.layers) {
      ASSERT_EQ(layer.scans.size(), scans) << layer.name;
      for (const train::ScanMaps& s : layer.scans)
        for (size_t t = 0; t < s.mean_delta.size(); ++t) {
          ASSERT_EQ(s.direction, train::scan_direction_name(static_cast<size_t>(&s - layer.scans.data())));
          EXPECT_TRUE(std::isfinite(s.state_norm[t]) && s.state_norm[t] > 0) << layer.name << " " << s.direction;
          EXPECT_GT(s.mean_delta[t], 0.0) << layer.name << " " << s.direction;  // a softplus
        }
      for (const auto& row : layer.attention)
        for (double v : row) EXPECT_TRUE(std::isfinite(v)) << layer.name;
    }
    const auto dir = temp_dir(kind + "_figures");
    const std::vector<std::string> written =
        train::write_inspection_figures(inspection, train::model_view_grey(image, 32), dir.string());
    ASSERT_EQ(written.size(), static_cast<size_t>(config.depth) * 4) << kind;  // delta, state, 2 queries
    EXPECT_EQ(std::filesystem::path(written[3]).filename(), "layer00_attention_patch_3_0.png");
    for (const std::string& path : written) {
      const bool per_direction = path.find("attention") == std::string::npos;
      expect_sane_figure(path, per_direction ? static_cast<int>(scans) : 1);
    }
    std::filesystem::remove_all(dir);
  }
}

TEST(Inspect, ViridisEndsAndNaN) {
  EXPECT_EQ(train::viridis(0.0), (std::array<uint8_t, 3>{68, 1, 84}));
  EXPECT_EQ(train::viridis(1.0), (std::array<uint8_t, 3>{253, 231, 37}));
  EXPECT_EQ(train::viridis(2.0), train::viridis(1.0));
  EXPECT_EQ(train::viridis(std::nan("")), (std::array<uint8_t, 3>{255, 0, 255}));
}

TEST(Inspect, NonFiniteMapsAndWrongSizesAreRefused) {
  const data::Image background(32, 32, 1);
  EXPECT_THROW(train::render_heat_figure(background, 4, "t", {{"p", std::vector<double>(16, std::nan(""))}}),
               std::invalid_argument);
  EXPECT_THROW(train::render_heat_figure(background, 4, "t", {{"p", std::vector<double>(15, 1.0)}}),
               std::invalid_argument);
  EXPECT_THROW(train::render_heat_figure(background, 5, "t", {{"p", std::vector<double>(25, 1.0)}}),
               std::invalid_argument);
}

int run_inspect(const std::string& args) {
  return std::system((std::string(EMRRG_BINARY) + " inspect " + args + " > /dev/null 2>&1").c_str());
}

TEST(Inspect, CommandLineWithACheckpointAndWithRandomInit) {
  const auto dir = temp_dir("inspect_cli");
  const std::string phantom_png = kEncodeDir + "phantom_a.png";
  ASSERT_EQ(run_inspect("--config " + kEncodeDir + "arm_tiny.toml --weights " + kEncodeDir +
                        "arm_tiny.pth --rename module.= --patch 0,3 --out " + (dir / "arm").string() + " " + phantom_png),
            0);
  for (const char* name : {"layer01_delta.png", "layer01_state.png", "layer01_attention_cls.png",
                           "layer01_attention_patch_0_3.png"})
    expect_sane_figure((dir / "arm" / name).string(), std::string(name).find("attention") != std::string::npos ? 1 : 4);
  ASSERT_EQ(run_inspect("--config " + kEncodeDir + "vim_tiny.toml --random-init --seed 2 --out " +
                        (dir / "vim").string() + " " + phantom_png),
            0);
  expect_sane_figure((dir / "vim" / "layer00_state.png").string(), 2);
  EXPECT_NE(run_inspect("--config " + kEncodeDir + "vim_tiny.toml --random-init --patch 4,0 --out " +
                        (dir / "bad").string() + " " + phantom_png),
            0);  // the grid is 4 x 4
  EXPECT_NE(run_inspect("--config " + kEncodeDir + "vim_tiny.toml --out " + (dir / "bad").string() + " " + phantom_png),
            0);  // no weights
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace emrrg
