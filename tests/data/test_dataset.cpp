// The dataset over a generated phantom set: image tensors (normalisation, views), report
// tokens and masks, the prompt template.
#include <gtest/gtest.h>

#include "tests/data/data_test_util.h"
#include "train/data/dataset.h"
#include "train/data/image_io.h"
#include "train/data/image_resize.h"
#include "train/data/prompt.h"

using namespace emrrg::data;
using namespace emrrg::data::testing;

namespace {
DatasetConfig demo_config(const std::string& split = "train") {
  DatasetConfig c;
  c.annotation_path = demo_dir() + "/annotation.json";
  c.split = split;
  c.cleaning = ReportCleaning::IuXray;
  c.image.size = kDemoSize;
  c.max_length = 60;
  return c;
}
}  // namespace

TEST(Dataset, ReadsTheDemoSplits) {
  ReportDataset train(demo_config("train"), llama2_tokenizer());
  ReportDataset val(demo_config("val"), llama2_tokenizer());
  ReportDataset test(demo_config("test"), llama2_tokenizer());
  EXPECT_EQ(train.size(), 14u);
  EXPECT_EQ(val.size(), 2u);
  EXPECT_EQ(test.size(), 4u);
  EXPECT_EQ(train.views(), 2);  // from the first entry
  EXPECT_EQ(train.image_dir(), demo_dir() + "/images");
  EXPECT_EQ(train.image_floats(), size_t(2 * 3 * kDemoSize * kDemoSize));
  EXPECT_TRUE(train.skipped_entries().empty());
}

TEST(Dataset, ImagesAreGreyReplicatedAndImageNetNormalised) {
  ReportDataset ds(demo_config(), llama2_tokenizer());
  std::vector<float> px(ds.image_floats());
  ds.load_images(3, px.data());
  const size_t plane = kDemoSize * kDemoSize;
  const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
  for (int v = 0; v < 2; ++v) {
    const Image img = read_image(ds.image_path(3, v));
    for (size_t i = 0; i < plane; i += 7)
      for (int c = 0; c < 3; ++c) {
        const float expected = (static_cast<float>(img.pixels[i]) / 255.0f - mean[c]) / sd[c];
        ASSERT_FLOAT_EQ(px[(v * 3 + c) * plane + i], expected) << "view " << v << " channel " << c;
      }
  }
  // Another size goes through the bicubic resize.
  DatasetConfig small = demo_config();
  small.image.size = 32;
  small.image.mean = {0, 0, 0};
  small.image.std = {1, 1, 1};
  ReportDataset ds32(small, llama2_tokenizer());
  std::vector<float> p32(ds32.image_floats());
  ds32.load_images(3, p32.data());
  const Image resized = resize_bicubic(read_image(ds32.image_path(3, 1)), 32, 32);
  for (int i = 0; i < 32 * 32; ++i) ASSERT_EQ(p32[(3 + 2) * 1024 + i], resized.pixels[i] / 255.0f);
}

TEST(Dataset, ReportTokensEosPaddingAndMask) {
  ReportDataset ds(demo_config(), llama2_tokenizer());
  const Tokenizer& tok = *llama2_tokenizer();
  for (size_t i = 0; i < ds.size(); ++i) {
    const std::string& clean = ds.clean_text(i);
    EXPECT_EQ(clean, clean_report(ReportCleaning::IuXray, ds.entry(i).report));
    EXPECT_EQ(clean.substr(clean.size() - 2), " .");
    auto expected = tok.encode(clean);
    expected.push_back(tok.eos_id());
    if (expected.size() > 60) expected.resize(60);
    EXPECT_EQ(ds.tokens(i), expected);
    std::vector<int64_t> ids(60);
    std::vector<float> mask(60);
    ds.report_tensors(i, ids.data(), mask.data());
    for (size_t k = 0; k < 60; ++k) {
      if (k < expected.size()) {
        EXPECT_EQ(ids[k], expected[k]);
        EXPECT_EQ(mask[k], 1.0f);
      } else {
        EXPECT_EQ(ids[k], 0);  // pad id
        EXPECT_EQ(mask[k], 0.0f);
      }
    }
  }
  // A short max_length truncates (the EOS is cut off, as Hugging Face truncation does).
  DatasetConfig c = demo_config();
  c.max_length = 6;
  ReportDataset shortds(c, llama2_tokenizer());
  EXPECT_EQ(shortds.tokens(0).size(), 6u);
  EXPECT_NE(shortds.tokens(0).back(), tok.eos_id());
  EXPECT_EQ(std::vector<int>(shortds.tokens(0).begin(), shortds.tokens(0).end()),
            std::vector<int>(ds.tokens(0).begin(), ds.tokens(0).begin() + 6));
}

TEST(Dataset, FewerViewsUsesTheFirstPaths) {
  DatasetConfig c = demo_config();
  c.views = 1;
  ReportDataset ds(c, llama2_tokenizer());
  EXPECT_EQ(ds.views(), 1);
  EXPECT_EQ(ds.entry(0).image_paths.size(), 1u);
  EXPECT_EQ(ds.entry(0).image_paths[0], ds.id(0) + "/0.png");
}

TEST(Dataset, ConfigurationErrors) {
  DatasetConfig c = demo_config();
  c.max_length = 0;
  EXPECT_THROW(ReportDataset(c, llama2_tokenizer()), std::invalid_argument);
  c = demo_config();
  c.pad_id = 40000;
  EXPECT_THROW(ReportDataset(c, llama2_tokenizer()), std::invalid_argument);
  EXPECT_THROW(ReportDataset(demo_config(), nullptr), std::invalid_argument);
  EXPECT_THROW(parse_report_cleaning("iu-xray-typo"), std::invalid_argument);
  EXPECT_EQ(parse_report_cleaning("iu"), ReportCleaning::IuXray);
  EXPECT_EQ(parse_report_cleaning("mimic-r2gengpt"), ReportCleaning::MimicCxrR2GenGPT);
  EXPECT_EQ(parse_report_cleaning("mimic_cxr"), ReportCleaning::MimicCxr);
}

TEST(Prompt, TemplateOfR2GenGPT) {
  const Tokenizer& tok = *llama2_tokenizer();
  const EncodedPrompt p = encode_prompt(tok);
  EXPECT_EQ(p.bos, 1);
  EXPECT_EQ(p.before, tok.encode("Human: <Img>"));
  EXPECT_EQ(p.after, tok.encode("</Img> Generate a comprehensive and detailed diagnosis report for this chest xray image. \nAssistant:"));
  EXPECT_EQ(tok.decode(p.before), "Human: <Img>");
  for (int id : p.before) EXPECT_NE(id, tok.bos_id());
  EXPECT_EQ(p.prefix_length(197), 1 + p.before.size() + 197 + p.after.size());
}
