#include <gtest/gtest.h>

#include "tests/train/trainer_test_util.h"
#include "train/report_validation.h"
#include "train/selection_formula.h"

namespace emrrg {
namespace {

const std::vector<std::string> kReports = {
    "the heart is normal in size . the lungs are clear .",
    "there is a small right pleural effusion . no pneumothorax .",
    "cardiomegaly is present . there is mild pulmonary edema .",
    "no acute cardiopulmonary abnormality .",
    "there is a left lower lobe opacity consistent with pneumonia .",
};

// Two batches of studies with reference reports.
class ReportSource : public train::BatchSource {
 public:
  size_t batches_per_epoch() const override { return 2; }
  void start_epoch(int64_t, size_t first_batch) override { position_ = first_batch; }
  bool next(data::Batch& b) override {
    if (position_ >= 2) return false;
    b = data::Batch();
    for (size_t i = position_ * 3; i < std::min<size_t>(kReports.size(), position_ * 3 + 3); ++i) {
      b.ids.push_back("study" + std::to_string(i));
      b.reports.push_back(kReports[i]);
      b.indices.push_back(i);
    }
    ++position_;
    return true;
  }
  size_t position() const override { return position_; }

 private:
  size_t position_ = 0;
};

// Writes the reference back (perfect) or always the same normal report.
class EchoModel : public testing::SpiralMlp {
 public:
  explicit EchoModel(bool echo) : SpiralMlp(1), echo_(echo) {}
  std::vector<std::string> generate(const data::Batch& b, const train::GenerateConfig& c) override {
    EXPECT_EQ(c.beams, 4);
    EXPECT_FALSE(model().is_training());
    return echo_ ? b.reports : std::vector<std::string>(b.size(), kReports[3]);
  }
  bool echo_;
};

TEST(ReportValidation, ScoresEveryStudyOfTheSplit) {
  ReportSource split;
  train::GenerateConfig gen;
  gen.beams = 4;
  EchoModel perfect(true), constant(false);
  std::vector<train::GeneratedReport> reports;
  const train::Metrics best = train::validate_by_generation(perfect, split, gen, &reports);
  ASSERT_EQ(reports.size(), 5u);
  EXPECT_EQ(reports[4].id, "study4");
  EXPECT_EQ(reports[4].generated, kReports[4]);
  EXPECT_NEAR(best.at("bleu_4"), 1.0, 1e-6);
  EXPECT_NEAR(best.at("rouge_l"), 1.0, 1e-9);
  EXPECT_NEAR(best.at("ce_f1_micro"), 1.0, 1e-9);
  const train::Metrics worst = train::validate_by_generation(constant, split, gen);
  for (const char* m : {"bleu_4", "cider", "ce_f1_micro", "meteor"}) EXPECT_LT(worst.at(m), best.at(m)) << m;
  EXPECT_EQ(best.size(), 15u);
  EXPECT_NEAR(best.at("ce_f1_micro_five"), 1.0, 1e-9);
  EXPECT_GT(train::SelectionFormula("0.8 * bleu_4 + 0.2 * cider").evaluate(best), 0.8);
}

}  // namespace
}  // namespace emrrg
