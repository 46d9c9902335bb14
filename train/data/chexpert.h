// The 14 CheXpert observations, in the order CheXpert, CheXbert and the clinical-efficacy
// metrics use.
#pragma once
#include <array>

namespace emrrg::data {

constexpr int kNumChexpertLabels = 14;
enum ChexpertLabel : int {
  kNoFinding = 0,
  kEnlargedCardiomediastinum,
  kCardiomegaly,
  kLungLesion,
  kLungOpacity,
  kEdema,
  kConsolidation,
  kPneumonia,
  kAtelectasis,
  kPneumothorax,
  kPleuralEffusion,
  kPleuralOther,
  kFracture,
  kSupportDevices,
};
inline constexpr std::array<const char*, kNumChexpertLabels> kChexpertNames = {
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Lesion", "Lung Opacity",
    "Edema", "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax",
    "Pleural Effusion", "Pleural Other", "Fracture", "Support Devices"};

}  // namespace emrrg::data
