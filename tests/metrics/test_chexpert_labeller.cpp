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

// Three reports with uncertain labels on both sides; the expected values are counted by hand.
struct UncertainLabelSets {
  std::vector<ChexpertLabels> refs = std::vector<ChexpertLabels>(3), hyps = std::vector<ChexpertLabels>(3);
  UncertainLabelSets() {
    refs[0][kCardiomegaly] = 1, refs[0][kEdema] = -1, refs[0][kAtelectasis] = 1, refs[0][kPneumothorax] = 1;
    hyps[0][kCardiomegaly] = 1, hyps[0][kEdema] = 1, hyps[0][kAtelectasis] = -1, hyps[0][kSupportDevices] = 1;
    refs[1][kPleuralEffusion] = 1, refs[1][kConsolidation] = 0;
    hyps[1][kPleuralEffusion] = -1, hyps[1][kConsolidation] = 1;
    refs[2][kNoFinding] = 1;
    hyps[2][kNoFinding] = 1, hyps[2][kEdema] = -1;
  }
  ClinicalEfficacy score(UncertainAs uncertain) const {
    return clinical_efficacy(std::span<const ChexpertLabels>(refs), std::span<const ChexpertLabels>(hyps), uncertain);
  }
};

TEST(ClinicalEfficacy, UncertainAsNegativeOverFourteenAndFive) {
  const auto ce = UncertainLabelSets().score(UncertainAs::Negative);
  // Positives: refs {Cardiomegaly, Atelectasis, Pneumothorax}, {Effusion}, {No Finding};
  // hyps {Cardiomegaly, Edema, Support Devices}, {Consolidation}, {No Finding}.
  // 14: TP 2, FP 3, FN 3; Cardiomegaly and No Finding score 1, the rest 0.
  EXPECT_DOUBLE_EQ(ce.micro.precision, 0.4);
  EXPECT_DOUBLE_EQ(ce.micro.recall, 0.4);
  EXPECT_DOUBLE_EQ(ce.micro.f1, 0.4);
  EXPECT_DOUBLE_EQ(ce.macro.precision, 2.0 / 14);
  EXPECT_DOUBLE_EQ(ce.macro.recall, 2.0 / 14);
  EXPECT_DOUBLE_EQ(ce.macro.f1, 2.0 / 14);
  // 5: TP 1 (Cardiomegaly), FP 2 (Edema, Consolidation), FN 2 (Atelectasis, Effusion).
  EXPECT_DOUBLE_EQ(ce.micro_five.precision, 1.0 / 3);
  EXPECT_DOUBLE_EQ(ce.micro_five.recall, 1.0 / 3);
  EXPECT_DOUBLE_EQ(ce.micro_five.f1, 1.0 / 3);
  EXPECT_DOUBLE_EQ(ce.macro_five.precision, 0.2);
  EXPECT_DOUBLE_EQ(ce.macro_five.recall, 0.2);
  EXPECT_DOUBLE_EQ(ce.macro_five.f1, 0.2);
  EXPECT_EQ(ce.support[kEdema], 0);
}

TEST(ClinicalEfficacy, UncertainAsPositiveOverFourteenAndFive) {
  const auto ce = UncertainLabelSets().score(UncertainAs::Positive);
  // Now Edema (ref 1, hyps 1 and 3), Atelectasis (hyp 1) and Effusion (hyp 2) are positive too.
  // Per label: Cardiomegaly, Atelectasis, Effusion, No Finding 1/1/1; Edema TP 1, FP 1 (P 1/2,
  // R 1, F1 2/3); Pneumothorax FN, Support Devices FP, Consolidation FP: 0.
  EXPECT_DOUBLE_EQ(ce.per_label[kEdema].precision, 0.5);
  EXPECT_DOUBLE_EQ(ce.per_label[kEdema].f1, 2.0 / 3);
  EXPECT_EQ(ce.support[kEdema], 1);
  // 14: TP 5, FP 3, FN 1.
  EXPECT_DOUBLE_EQ(ce.micro.precision, 5.0 / 8);
  EXPECT_DOUBLE_EQ(ce.micro.recall, 5.0 / 6);
  EXPECT_DOUBLE_EQ(ce.micro.f1, 5.0 / 7);
  EXPECT_DOUBLE_EQ(ce.macro.precision, 4.5 / 14);
  EXPECT_DOUBLE_EQ(ce.macro.recall, 5.0 / 14);
  EXPECT_DOUBLE_EQ(ce.macro.f1, 1.0 / 3);
  // 5: TP 4, FP 2 (Consolidation, Edema of report 3), FN 0.
  EXPECT_DOUBLE_EQ(ce.micro_five.precision, 2.0 / 3);
  EXPECT_DOUBLE_EQ(ce.micro_five.recall, 1.0);
  EXPECT_DOUBLE_EQ(ce.micro_five.f1, 0.8);
  EXPECT_DOUBLE_EQ(ce.macro_five.precision, 0.7);
  EXPECT_DOUBLE_EQ(ce.macro_five.recall, 0.8);
  EXPECT_DOUBLE_EQ(ce.macro_five.f1, 11.0 / 15);
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
