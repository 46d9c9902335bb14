// The rule-based CheXpert-style labeller on hand-written sentences, and CE metrics on
// hand-computed confusion counts.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "train/metrics/chexpert_labeller.h"
#include "train/metrics/clinical_efficacy.h"

namespace emrrg::metrics {
namespace {

std::optional<int> label(const std::string& report, ChexpertLabel l) { return label_report(report)[l]; }

TEST(ChexpertLabeller, Negation) {
  EXPECT_EQ(label("no pneumothorax .", kPneumothorax), kNegative);
  EXPECT_EQ(label("There is no pneumothorax or pleural effusion.", kPleuralEffusion), kNegative);
  EXPECT_EQ(label("No evidence of focal consolidation, pneumothorax, or large pleural effusion.", kConsolidation),
            kNegative);
  EXPECT_EQ(label("pneumothorax is not seen", kPneumothorax), kNegative);
  EXPECT_EQ(label("interval removal of the endotracheal tube .", kSupportDevices), kNegative);
  EXPECT_EQ(label("the lungs are clear without focal consolidation .", kConsolidation), kNegative);
  EXPECT_EQ(label("It's unchanged; there isn't any effusion.", kPleuralEffusion), kNegative);
  EXPECT_EQ(label("Heart: normal.", kCardiomegaly), kNegative);
}

TEST(ChexpertLabeller, Uncertainty) {
  EXPECT_EQ(label("cannot exclude effusion .", kPleuralEffusion), kUncertain);
  EXPECT_EQ(label("a small effusion cannot be excluded .", kPleuralEffusion), kUncertain);
  EXPECT_EQ(label("possible pneumonia in the left lower lobe .", kPneumonia), kUncertain);
  EXPECT_EQ(label("left basilar opacity may represent atelectasis", kAtelectasis), kUncertain);
  EXPECT_EQ(label("heart size is borderline .", kCardiomegaly), kUncertain);
}

TEST(ChexpertLabeller, Positive) {
  EXPECT_EQ(label("mild cardiomegaly .", kCardiomegaly), kPositive);
  EXPECT_EQ(label("The heart is mildly enlarged.", kCardiomegaly), kPositive);
  EXPECT_EQ(label("small left pleural effusion .", kPleuralEffusion), kPositive);
  EXPECT_EQ(label("right pic line terminates in the svc . picc in place .", kSupportDevices), kPositive);
  EXPECT_EQ(label("mild pulmonary edema", kEdema), kPositive);
  EXPECT_EQ(label("healed left rib fractures", kFracture), kPositive);
}

TEST(ChexpertLabeller, NormalDescriptorsAreNegative) {
  const auto l = label_report("the heart is normal in size . the mediastinum is unremarkable . the lungs are clear .");
  EXPECT_EQ(l[kCardiomegaly], kNegative);
  EXPECT_EQ(l[kEnlargedCardiomediastinum], kNegative);
  EXPECT_EQ(label("normal heart size .", kCardiomegaly), kNegative);
  EXPECT_EQ(label("the heart is not enlarged .", kCardiomegaly), kNegative);
  EXPECT_EQ(label("the costophrenic angles are sharp .", kPleuralEffusion), kNegative);
}

TEST(ChexpertLabeller, ScopeEndsAtSentenceAndClause) {
  const auto l = label_report("no pneumothorax . mild cardiomegaly .");
  EXPECT_EQ(l[kPneumothorax], kNegative);
  EXPECT_EQ(l[kCardiomegaly], kPositive);
  const auto l2 = label_report("no pneumothorax, but there is a small right effusion");
  EXPECT_EQ(l2[kPneumothorax], kNegative);
  EXPECT_EQ(l2[kPleuralEffusion], kPositive);
}

TEST(ChexpertLabeller, AggregationPositiveBeatsUncertainBeatsNegative) {
  EXPECT_EQ(label("no effusion on the left . small effusion on the right .", kPleuralEffusion), kPositive);
  EXPECT_EQ(label("no effusion on the left . possible effusion on the right .", kPleuralEffusion), kUncertain);
}

TEST(ChexpertLabeller, NoFinding) {
  const auto normal = label_report("no acute cardiopulmonary process .");
  EXPECT_EQ(normal[kNoFinding], kPositive);
  for (int k = 1; k < kNumChexpertLabels; ++k) EXPECT_FALSE(normal[k].has_value()) << kChexpertLabelNames[k];
  // Negative findings and support devices still leave No Finding positive.
  const auto devices = label_report("no pneumothorax . sternotomy wires are intact .");
  EXPECT_EQ(devices[kNoFinding], kPositive);
  EXPECT_EQ(devices[kSupportDevices], kPositive);
  // A positive or an uncertain pathology removes it (blank).
  EXPECT_FALSE(label_report("mild cardiomegaly .")[kNoFinding].has_value());
  EXPECT_FALSE(label_report("cannot exclude effusion .")[kNoFinding].has_value());
}

TEST(ClinicalEfficacy, MicroMacroAndUncertainAsNegative) {
  // Report 1: ref cardiomegaly+effusion, hyp cardiomegaly only.
  // Report 2: ref pneumothorax, hyp uncertain pneumothorax (counts as negative) + edema.
  ChexpertLabels r1{}, h1{}, r2{}, h2{};
  r1[kCardiomegaly] = 1;
  r1[kPleuralEffusion] = 1;
  h1[kCardiomegaly] = 1;
  h1[kPleuralEffusion] = 0;
  r2[kPneumothorax] = 1;
  h2[kPneumothorax] = -1;
  h2[kEdema] = 1;
  const std::vector<ChexpertLabels> refs = {r1, r2}, hyps = {h1, h2};
  const auto ce = clinical_efficacy(std::span<const ChexpertLabels>(refs), std::span<const ChexpertLabels>(hyps));
  // TP 1 (cardiomegaly), FP 1 (edema), FN 2 (effusion, pneumothorax).
  EXPECT_DOUBLE_EQ(ce.micro.precision, 0.5);
  EXPECT_DOUBLE_EQ(ce.micro.recall, 1.0 / 3);
  EXPECT_DOUBLE_EQ(ce.micro.f1, 2.0 / 5);
  // Per label: cardiomegaly 1/1/1, everything else 0 (0/0 -> 0); macro = 1/14.
  EXPECT_DOUBLE_EQ(ce.per_label[kCardiomegaly].f1, 1.0);
  EXPECT_DOUBLE_EQ(ce.per_label[kEdema].precision, 0.0);
  EXPECT_DOUBLE_EQ(ce.macro.precision, 1.0 / 14);
  EXPECT_DOUBLE_EQ(ce.macro.recall, 1.0 / 14);
  EXPECT_DOUBLE_EQ(ce.macro.f1, 1.0 / 14);
  EXPECT_EQ(ce.support[kPleuralEffusion], 1);
}

TEST(ClinicalEfficacy, FromText) {
  const std::vector<std::string> refs = {"mild cardiomegaly . small left pleural effusion .",
                                         "no acute cardiopulmonary process ."};
  const std::vector<std::string> hyps = {"the heart size is normal .", "no acute cardiopulmonary process ."};
  const auto ce = clinical_efficacy(std::span<const std::string>(refs), std::span<const std::string>(hyps));
  // Hyp 1 is No Finding (FP), misses cardiomegaly and effusion (FN 2); hyp 2 No Finding (TP).
  EXPECT_DOUBLE_EQ(ce.micro.precision, 0.5);
  EXPECT_DOUBLE_EQ(ce.micro.recall, 1.0 / 3);
}

}  // namespace
}  // namespace emrrg::metrics
