// The phantom data set: determinism, layout, labels consistent with the reports (and with the
// project's CheXpert-style labeller), and findings that are visible in the pixels.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "tests/data/data_test_util.h"
#include "train/data/annotation.h"
#include "train/data/image_io.h"
#include "train/data/phantom_findings.h"
#include "train/data/phantom_renderer.h"
#include "train/data/phantom_report.h"
#include "train/data/report_cleaning_rule.h"
#include "train/metrics/chexpert_labeller.h"

using namespace emrrg::data;
using namespace emrrg::data::testing;

TEST(Phantom, SameSeedSameStudy) {
  const PhantomStudy a = make_phantom_study(9, 4, 64), b = make_phantom_study(9, 4, 64);
  EXPECT_EQ(a.report, b.report);
  EXPECT_EQ(a.frontal.pixels, b.frontal.pixels);
  EXPECT_EQ(a.lateral.pixels, b.lateral.pixels);
  EXPECT_EQ(a.frontal.width, 64);
  EXPECT_EQ(a.frontal.channels, 1);
  const PhantomStudy c = make_phantom_study(10, 4, 64);
  EXPECT_NE(a.frontal.pixels, c.frontal.pixels);
  const PhantomStudy d = make_phantom_study(9, 5, 64);
  EXPECT_NE(a.frontal.pixels, d.frontal.pixels);
}

TEST(Phantom, DemoDataSetIsByteIdenticalForAnyThreadCount) {
  DemoDataConfig c;
  c.n = 12;
  c.size = 40;
  c.seed = 77;
  c.out_dir = scratch_dir("det1");
  c.threads = 1;
  make_demo_data(c);
  const std::string one = c.out_dir;
  c.out_dir = scratch_dir("det2");
  c.threads = 3;
  make_demo_data(c);
  const std::string two = c.out_dir;
  EXPECT_EQ(read_text(one + "/annotation.json"), read_text(two + "/annotation.json"));
  int files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(one + "/images")) {
    if (!e.is_regular_file()) continue;
    const auto rel = std::filesystem::relative(e.path(), one);
    ASSERT_EQ(read_text(e.path().string()), read_text(two + "/" + rel.string())) << rel;
    ++files;
  }
  EXPECT_EQ(files, 24);
}

TEST(Phantom, LayoutIsR2GenWithSplitsAndLabels) {
  const std::string dir = demo_dir();
  const auto root = nlohmann::json::parse(read_text(dir + "/annotation.json"));
  EXPECT_EQ(root["train"].size(), 14u);
  EXPECT_EQ(root["val"].size(), 2u);
  EXPECT_EQ(root["test"].size(), 4u);
  std::set<std::string> ids;
  for (const char* split : {"train", "val", "test"}) {
    const AnnotationSplit s = load_annotation_split(dir + "/annotation.json", split);
    for (const auto& e : s.entries) {
      EXPECT_TRUE(ids.insert(e.id).second) << "duplicate id " << e.id;
      ASSERT_EQ(e.image_paths.size(), 2u);
      EXPECT_EQ(e.image_paths[0], e.id + "/0.png");
      ASSERT_TRUE(e.labels.has_value());
      for (const auto& p : e.image_paths) {
        const Image img = read_image(dir + "/images/" + p);
        EXPECT_EQ(img.width, kDemoSize);
        EXPECT_EQ(img.height, kDemoSize);
        EXPECT_EQ(img.channels, 1);
      }
      EXPECT_FALSE(e.report.empty());
    }
  }
}

namespace {
// A report states a label positively when one of its sentences names the observation without
// a negation cue.
bool mentions(const std::string& report, int label) {
  static const std::vector<std::vector<std::string>> words = {
      {},
      {"mediastinum is widened", "widening of the mediastinum", "widened mediastinum"},
      {"cardiomegaly", "heart is mildly enlarged", "heart is moderately enlarged", "heart is severely enlarged",
       "enlargement of the cardiac silhouette"},
      {"nodule"},
      {"opacity"},
      {"edema"},
      {"consolidation"},
      {"pneumonia"},
      {"atelectasis"},
      {"pneumothorax"},
      {"pleural effusion"},
      {"pleural thickening"},
      {"fracture"},
      {"pacemaker", "catheter", "central line"},
  };
  size_t start = 0;
  while (start < report.size()) {
    size_t end = report.find(". ", start);
    if (end == std::string::npos) end = report.size();
    const std::string sentence = report.substr(start, end - start);
    start = end + 2;
    if (sentence.rfind("no ", 0) == 0 || sentence.find("there is no") != std::string::npos ||
        sentence.find("without") != std::string::npos)
      continue;
    for (const auto& w : words[label])
      if (sentence.find(w) != std::string::npos) return true;
  }
  return false;
}
}  // namespace

TEST(Phantom, LabelsMatchTheReportsAndTheLabeller) {
  int positives[kNumChexpertLabels] = {0};
  const int n = 1500;
  for (int i = 0; i < n; ++i) {
    Rng findings_rng(mix_seed({3, static_cast<uint64_t>(i)})), report_rng(mix_seed({4, static_cast<uint64_t>(i)}));
    const PhantomFindings f = sample_findings(findings_rng);
    const std::string report = write_phantom_report(f, report_rng);
    const auto labels = f.chexpert_labels();
    std::string lower = report;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    bool any = false;
    for (int k = 1; k < kNumChexpertLabels; ++k) {
      positives[k] += labels[k];
      EXPECT_EQ(mentions(lower, k), labels[k] == 1) << kChexpertNames[k] << ": " << report;
      if (k != kSupportDevices) any = any || labels[k];
    }
    EXPECT_EQ(labels[kNoFinding], any ? 0 : 1);
    positives[0] += labels[0];
    // The project's rule-based labeller reads the same labels from the cleaned report.
    const auto read = emrrg::metrics::label_report(clean_report(ReportCleaning::IuXray, report));
    for (int k = 0; k < kNumChexpertLabels; ++k)
      EXPECT_EQ(read[k].value_or(0) == 1 ? 1 : 0, labels[k]) << kChexpertNames[k] << ": " << report;
    // The cleaned report is in IU style.
    const std::string clean = clean_report(ReportCleaning::IuXray, report);
    EXPECT_EQ(clean.substr(clean.size() - 2), " .");
  }
  // Plausible prevalences: normal studies are common, every observation occurs.
  EXPECT_GT(positives[kNoFinding], n * 0.35);
  EXPECT_LT(positives[kNoFinding], n * 0.7);
  for (int k = 1; k < kNumChexpertLabels; ++k) EXPECT_GT(positives[k], 5) << kChexpertNames[k];
  EXPECT_GT(positives[kCardiomegaly], n * 0.08);
}

TEST(Phantom, ReportsFitIuMaxLength) {
  // Extras are dropped from long reports, so almost all fit IU X-ray's 60 tokens (with EOS).
  int fit = 0;
  const int n = 600;
  for (int i = 0; i < n; ++i) {
    Rng findings_rng(mix_seed({8, static_cast<uint64_t>(i)})), report_rng(mix_seed({9, static_cast<uint64_t>(i)}));
    const PhantomFindings f = sample_findings(findings_rng);
    const std::string clean = clean_report(ReportCleaning::IuXray, write_phantom_report(f, report_rng));
    fit += llama2_tokenizer()->encode(clean).size() + 1 <= 60;
  }
  EXPECT_GE(fit, n * 98 / 100);
}

TEST(Phantom, ReportsVaryForTheSameFindings) {
  PhantomFindings normal;
  std::set<std::string> texts;
  for (int i = 0; i < 200; ++i) {
    Rng rng(static_cast<uint64_t>(i));
    texts.insert(write_phantom_report(normal, rng));
  }
  EXPECT_GT(texts.size(), 50u);
}

namespace {
// Mean grey level of a rectangle of a frontal image, in normalised coordinates.
double region_mean(const Image& img, double u0, double v0, double u1, double v1) {
  double sum = 0;
  int n = 0;
  for (int y = static_cast<int>(v0 * img.height); y < static_cast<int>(v1 * img.height); ++y)
    for (int x = static_cast<int>(u0 * img.width); x < static_cast<int>(u1 * img.width); ++x) {
      sum += img.at(x, y, 0);
      ++n;
    }
  return sum / n;
}
double region_max(const Image& img, double u0, double v0, double u1, double v1) {
  int m = 0;
  for (int y = static_cast<int>(v0 * img.height); y < static_cast<int>(v1 * img.height); ++y)
    for (int x = static_cast<int>(u0 * img.width); x < static_cast<int>(u1 * img.width); ++x) m = std::max<int>(m, img.at(x, y, 0));
  return m;
}
// Average over several renderings (different noise and exposure) of the same findings.
template <typename F>
double average_over_renders(const PhantomFindings& f, F measure) {
  double s = 0;
  for (int k = 0; k < 6; ++k) {
    Rng rng(1000 + k);
    PhantomAnatomy anatomy;  // fixed anatomy: midline 0.5, half-width 0.35, domes 0.67 / 0.69
    anatomy.gastric_bubble = false;
    s += measure(render_frontal(f, anatomy, 128, rng));
  }
  return s / 6;
}
}  // namespace

TEST(Phantom, FindingsAreVisible) {
  PhantomFindings normal;
  normal.cardiothoracic_ratio = 0.42;
  // Cardiomegaly: the heart covers the left lower lung field next to a normal heart border.
  PhantomFindings big = normal;
  big.cardiomegaly = true;
  big.cardiothoracic_ratio = 0.66;
  auto heart_zone = [](const Image& i) { return region_mean(i, 0.75, 0.55, 0.8, 0.62); };
  EXPECT_GT(average_over_renders(big, heart_zone), average_over_renders(normal, heart_zone) + 25);
  // Large right effusion: the right lung base (image left) turns white.
  PhantomFindings eff = normal;
  eff.effusion = Side::Right;
  eff.effusion_grade = Grade::Severe;
  auto right_base = [](const Image& i) { return region_mean(i, 0.22, 0.52, 0.36, 0.62); };
  auto left_base = [](const Image& i) { return region_mean(i, 0.64, 0.52, 0.78, 0.62); };
  const double right_gain = average_over_renders(eff, right_base) - average_over_renders(normal, right_base);
  const double left_gain = average_over_renders(eff, left_base) - average_over_renders(normal, left_base);
  EXPECT_GT(right_gain, 25);
  EXPECT_GT(right_gain, left_gain + 20);  // on the side of the effusion
  // Right upper lobe consolidation.
  PhantomFindings cons = normal;
  cons.opacity = true;
  cons.opacity_kind = OpacityKind::Consolidation;
  cons.opacity_lobe = Lobe::RightUpper;
  auto rul = [](const Image& i) { return region_mean(i, 0.26, 0.2, 0.36, 0.3); };
  EXPECT_GT(average_over_renders(cons, rul), average_over_renders(normal, rul) + 10);
  // Pacemaker: metal in the left upper chest saturates.
  PhantomFindings pm = normal;
  pm.pacemaker = true;
  auto left_upper_max = [](const Image& i) { return region_max(i, 0.65, 0.12, 0.85, 0.3); };
  EXPECT_GT(average_over_renders(pm, left_upper_max), 245);
  EXPECT_LT(average_over_renders(normal, left_upper_max), average_over_renders(pm, left_upper_max) - 15);
  // Hyperinflation: flat, low diaphragms leave more dark lung at the bases.
  PhantomFindings hyper = normal;
  hyper.hyperinflation = true;
  auto lung_base = [](const Image& i) { return region_mean(i, 0.2, 0.66, 0.35, 0.72); };
  Rng arng(5);
  double normal_base = 0, hyper_base = 0;
  for (int k = 0; k < 6; ++k) {
    Rng a1(50 + k), a2(50 + k), r1(70 + k), r2(70 + k);
    const PhantomAnatomy an_n = sample_anatomy(a1, normal), an_h = sample_anatomy(a2, hyper);
    normal_base += lung_base(render_frontal(normal, an_n, 128, r1));
    hyper_base += lung_base(render_frontal(hyper, an_h, 128, r2));
  }
  EXPECT_LT(hyper_base / 6, normal_base / 6 - 15);
}
