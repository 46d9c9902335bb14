// Image decoding and preprocessing against Pillow's output (fixtures made by
// tests/golden/make_image_golden.py), and corrupt image files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "train/data/image.h"
#include "train/data/image_io.h"
#include "train/data/image_resize.h"
#include "train/data/image_transform.h"

using namespace emrrg::data;

namespace {
const std::string kImages = std::string(EMRRG_FIXTURES_DIR) + "/images/";

nlohmann::json golden() {
  std::ifstream in(kImages + "resize_golden.json");
  return nlohmann::json::parse(in);
}
}  // namespace

TEST(ImageResize, MatchesPillowBicubicByteForByte) {
  int checked = 0;
  const auto g = golden();
  for (const auto& c : g["cases"]) {
    if (c.value("jpeg", false)) continue;
    const Image in = read_image(kImages + c["input"].get<std::string>());
    const Image expected = to_rgb(read_image(kImages + c["expected_rgb"].get<std::string>()));
    // Resizing the RGB conversion and resizing the alpha-less native channels agree.
    const Image rgb = resize_bicubic(to_rgb(in), c["width"], c["height"]);
    const Image native = to_rgb(resize_bicubic(drop_alpha(in), c["width"], c["height"]));
    ASSERT_EQ(rgb.width, expected.width);
    ASSERT_EQ(rgb.height, expected.height);
    EXPECT_EQ(rgb.pixels, expected.pixels) << c["input"];
    EXPECT_EQ(native.pixels, expected.pixels) << c["input"];
    ++checked;
  }
  EXPECT_EQ(checked, 6);
}

TEST(ImageResize, JpegDecodeIsCloseToLibjpeg) {
  int checked = 0;
  const auto g = golden();
  for (const auto& c : g["cases"]) {
    if (!c.value("jpeg", false)) continue;
    ++checked;
    const Image in = read_image(kImages + c["input"].get<std::string>());
    EXPECT_EQ(in.channels, 1);
    const Image got = to_rgb(resize_bicubic(in, c["width"], c["height"]));
    const Image expected = to_rgb(read_image(kImages + c["expected_rgb"].get<std::string>()));
    ASSERT_EQ(got.pixels.size(), expected.pixels.size());
    double sum = 0;
    int worst = 0;
    for (size_t i = 0; i < got.pixels.size(); ++i) {
      const int d = std::abs(int(got.pixels[i]) - int(expected.pixels[i]));
      sum += d;
      worst = std::max(worst, d);
    }
    EXPECT_LT(sum / got.pixels.size(), 1.0);
    EXPECT_LE(worst, 8);
  }
  EXPECT_EQ(checked, 1);
}

TEST(ImageResize, TapsSumToOneAndStretchWhenShrinking) {
  const ResampleTaps down = bicubic_taps(512, 224);
  const ResampleTaps up = bicubic_taps(100, 224);
  EXPECT_EQ(up.ksize, 5);                                    // support 2 -> 2*2+1
  EXPECT_EQ(down.ksize, 2 * int(std::ceil(2 * 512.0 / 224)) + 1);  // stretched support
  for (const ResampleTaps* t : {&down, &up}) {
    for (int i = 0; i < t->out_size; ++i) {
      long sum = 0;
      for (int k = 0; k < t->count[i]; ++k) sum += t->weights[i * t->ksize + k];
      EXPECT_NEAR(sum, 1 << 22, t->count[i]);
      EXPECT_GE(t->first[i], 0);
      EXPECT_LE(t->first[i] + t->count[i], t->in_size);
    }
  }
  EXPECT_GT(down.count[100], 8);
}

TEST(ImageResize, ConstantImageStaysConstant) {
  Image in(37, 53, 3);
  std::fill(in.pixels.begin(), in.pixels.end(), 77);
  for (auto [w, h] : {std::pair{224, 224}, {5, 9}, {37, 100}}) {
    const Image out = resize_bicubic(in, w, h);
    for (uint8_t v : out.pixels) ASSERT_EQ(v, 77);
  }
}

TEST(ImageTransform, NormalisationMatchesTorchvisionFloat32) {
  const auto g = golden();
  const auto& table = g["normalise_imagenet"];
  ImageTransform tf(ImageTransformConfig{.size = 2});
  for (int v = 0; v < 256; ++v) {
    Image px(2, 2, 3);
    for (int i = 0; i < 4; ++i)
      for (int c = 0; c < 3; ++c) px.pixels[i * 3 + c] = static_cast<uint8_t>(v);
    std::vector<float> out(tf.output_size());
    tf.normalise(px, out.data());
    for (int c = 0; c < 3; ++c) EXPECT_EQ(out[c * 4], table[c][v].get<float>()) << "v=" << v << " c=" << c;
  }
}

TEST(ImageTransform, ChannelsFirstRgbFromGreyAndRgba) {
  const auto g = golden();
  ImageTransform tf(ImageTransformConfig{.size = 224});
  const Image in = read_image(kImages + "grey_shrink_in.png");
  const Image expected = to_rgb(read_image(kImages + "grey_shrink_pil.png"));
  std::vector<float> out(tf.output_size());
  tf.apply(in, out.data());
  const size_t plane = 224 * 224;
  for (size_t i = 0; i < plane; i += 97)
    for (int c = 0; c < 3; ++c)
      ASSERT_EQ(out[c * plane + i], g["normalise_imagenet"][c][expected.pixels[i * 3 + c]].get<float>());
  // Custom mean/std.
  ImageTransform plain(ImageTransformConfig{.size = 8, .mean = {0, 0, 0}, .std = {1, 1, 1}});
  Image rgba(8, 8, 4);
  for (size_t i = 0; i < rgba.pixels.size(); ++i) rgba.pixels[i] = (i % 4 == 3) ? 0 : 255;
  std::vector<float> o(plain.output_size());
  plain.apply(rgba, o.data());
  for (float v : o) ASSERT_EQ(v, 1.0f);
  EXPECT_THROW(ImageTransform(ImageTransformConfig{.size = 0}), std::invalid_argument);
  EXPECT_THROW(ImageTransform(ImageTransformConfig{.size = 4, .std = {1, 0, 1}}), std::invalid_argument);
}

TEST(ImageIo, PngRoundTripAllChannelCounts) {
  std::mt19937 rng(3);
  for (int ch = 1; ch <= 4; ++ch) {
    Image img(17, 9, ch);
    for (auto& p : img.pixels) p = static_cast<uint8_t>(rng());
    const Image back = decode_image(encode_png(img), "roundtrip");
    EXPECT_EQ(back.channels, ch);
    EXPECT_EQ(back.pixels, img.pixels);
    EXPECT_EQ(encode_png(img), encode_png(img));  // deterministic bytes
  }
}

TEST(ImageIo, CorruptInputsGiveClearErrors) {
  const std::string good = read_file_bytes(kImages + "rgb_enlarge_in.png");
  auto expect_error = [](const std::string& bytes, const std::string& name, const std::string& fragment) {
    try {
      decode_image(bytes, name);
      ADD_FAILURE() << "accepted " << name;
    } catch (const ImageError& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error("", "empty.png", "empty");
  expect_error("this is a text file, not an image\n", "notes.txt", "not a readable image");
  expect_error(good.substr(0, 8), "header-only.png", "not a readable image");
  expect_error(good.substr(0, good.size() / 2), "half.png", "");
  // IHDR claiming 100000 x 100000: rejected before decoding.
  std::string huge = good;
  const unsigned char dims[8] = {0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0};
  std::memcpy(&huge[16], dims, 8);
  expect_error(huge, "huge.png", "");
  EXPECT_THROW(read_image(kImages + "no-such-file.png"), ImageError);
  // Random byte flips: decoding either fails with ImageError or returns an image; never crashes.
  std::mt19937 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    std::string bad = good;
    const int flips = 1 + trial % 8;
    for (int f = 0; f < flips; ++f) bad[rng() % bad.size()] = static_cast<char>(rng());
    try {
      const Image img = decode_image(bad, "flipped.png");
      EXPECT_EQ(img.pixels.size(), size_t(img.width) * img.height * img.channels);
    } catch (const ImageError&) {
    }
  }
}
