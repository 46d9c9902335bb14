// A rule-based labeller for the 14 CheXpert observations, in the spirit of the CheXpert
// labeller (Irvin et al. 2019): mention phrases per observation, negation and uncertainty
// cues whose scope is the clause of the sentence they occur in, aggregation over a report
// positive > uncertain > negative, and "No Finding" when no pathology (anything but Support
// Devices) is positive or uncertain. It is NOT CheXbert and not the CheXpert labeller: no
// parser, no learned model, a fixed phrase list; see docs/METRICS.md for how its numbers may
// differ from the CE figures papers report.
#pragma once
#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace emrrg::metrics {

inline constexpr int kNumChexpertLabels = 14;

// In CheXpert's column order.
inline constexpr std::array<std::string_view, kNumChexpertLabels> kChexpertLabelNames = {
    "No Finding",  "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Lesion",
    "Lung Opacity", "Edema", "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax",
    "Pleural Effusion", "Pleural Other", "Fracture", "Support Devices"};

enum ChexpertLabel : int {
  kNoFinding = 0, kEnlargedCardiomediastinum, kCardiomegaly, kLungLesion, kLungOpacity, kEdema,
  kConsolidation, kPneumonia, kAtelectasis, kPneumothorax, kPleuralEffusion, kPleuralOther,
  kFracture, kSupportDevices
};

// CheXpert's values: 1 positive, 0 negative, -1 uncertain; nullopt = not mentioned (blank).
inline constexpr int kPositive = 1;
inline constexpr int kNegative = 0;
inline constexpr int kUncertain = -1;
using ChexpertLabels = std::array<std::optional<int>, kNumChexpertLabels>;

// Labels one report (free text or cleaned text; case does not matter).
ChexpertLabels label_report(std::string_view report);

}  // namespace emrrg::metrics
