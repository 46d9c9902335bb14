#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "tests/train/trainer_test_util.h"
#include "train/baselines.h"
#include "train/metrics_table.h"

namespace emrrg {
namespace {

struct Splits {
  testing::ScratchDir dir{"baselines"};
  std::shared_ptr<const data::Tokenizer> tokenizer =
      data::load_tokenizer(std::string(EMRRG_FIXTURES_DIR) + "/tokenizers/tok512.model");
  std::unique_ptr<data::ReportDataset> train, test;
  Splits() {
    data::DatasetConfig d;
    d.annotation_path = testing::make_phantom(dir / "demo", 16);
    d.image.size = 16;
    train = std::make_unique<data::ReportDataset>(d, tokenizer);
    d.split = "test";
    test = std::make_unique<data::ReportDataset>(d, tokenizer);
  }
};

TEST(Baselines, MostFrequentAndRandomTrainingReports) {
  const Splits s;
  std::map<std::string, int> counts;
  for (size_t i = 0; i < s.train->size(); ++i) ++counts[s.train->clean_text(i)];
  int most = 0;
  for (const auto& [text, c] : counts) most = std::max(most, c);
  const std::string frequent = train::most_frequent_report(*s.train);
  EXPECT_EQ(counts.at(frequent), most);

  const auto a = train::random_reports(*s.train, 50, 7), b = train::random_reports(*s.train, 50, 7);
  EXPECT_EQ(a, b);  // the seed fixes the draw
  EXPECT_NE(a, train::random_reports(*s.train, 50, 8));
  for (const std::string& r : a) EXPECT_TRUE(counts.count(r)) << r;

  const auto columns = train::baseline_metrics(*s.train, *s.test, 7);
  ASSERT_EQ(columns.size(), 2u);
  EXPECT_EQ(columns[0].first, "most frequent");
  for (const auto& [name, m] : columns) {
    EXPECT_GT(m.at("bleu_1"), 0.0) << name;
    EXPECT_LE(m.at("bleu_4"), 1.0) << name;
    EXPECT_TRUE(m.count("ce_f1_micro")) << name;
  }
  std::ostringstream table;
  train::print_metrics_table(table, columns);
  EXPECT_NE(table.str().find("most frequent"), std::string::npos);
  EXPECT_NE(table.str().find("cider"), std::string::npos);
}

TEST(Baselines, MostFrequentCountsCleanedReportsAndBreaksTiesByOrder) {
  testing::ScratchDir dir("baselines_counts");
  const std::string annotation = dir / "annotation.json";
  std::ofstream(annotation) << R"({"train": [
    {"id": "a", "report": "The lungs are clear.", "image_path": ["a.png"]},
    {"id": "b", "report": "Small left effusion.", "image_path": ["b.png"]},
    {"id": "c", "report": "small left EFFUSION.", "image_path": ["c.png"]},
    {"id": "d", "report": "The lungs are clear", "image_path": ["d.png"]},
    {"id": "e", "report": "Cardiomegaly.", "image_path": ["e.png"]}], "val": [], "test": []})";
  data::DatasetConfig d;
  d.annotation_path = annotation;
  d.views = 1;
  const data::ReportDataset train(d,
                                  data::load_tokenizer(std::string(EMRRG_FIXTURES_DIR) + "/tokenizers/tok512.model"));
  // IU cleaning lower-cases and ends every report with " .": a and d tie with b and c; a is first.
  EXPECT_EQ(train::most_frequent_report(train), train.clean_text(0));
  EXPECT_EQ(train.clean_text(0), train.clean_text(3));
  EXPECT_EQ(train.clean_text(1), train.clean_text(2));
}

TEST(MetricsTable, AlignsColumnsAndMarksMissingMetrics) {
  std::ostringstream out;
  train::print_metrics_table(out, {{"model", {{"bleu_4", 0.12345}, {"cider", 1.5}}}, {"baseline", {{"bleu_4", 0.1}}}});
  EXPECT_EQ(out.str(),
            "metric     model  baseline\n"
            "--------------------------\n"
            "bleu_4    0.1235    0.1000\n"
            "cider     1.5000         -\n");
}

}  // namespace
}  // namespace emrrg
