// What a phantom study shows: the findings drawn for one synthetic chest radiograph, with
// plausible prevalences and correlations, and the CheXpert labels its report implies.
// Sides are the patient's (on a PA frontal image the patient's right is on the image's left).
#pragma once
#include <array>
#include <string>

#include "train/data/chexpert.h"
#include "train/data/rng.h"

namespace emrrg::data {

enum class Side { None, Right, Left, Both };
enum class Lobe { RightUpper, RightMiddle, RightLower, LeftUpper, Lingula, LeftLower };
enum class Grade { Mild = 1, Moderate = 2, Severe = 3 };  // small / moderate / large for effusion and pneumothorax
enum class OpacityKind { Opacity, Consolidation, Pneumonia };

struct PhantomFindings {
  // Cardiac and mediastinal.
  bool cardiomegaly = false;
  Grade cardiomegaly_grade = Grade::Mild;
  double cardiothoracic_ratio = 0.45;  // heart width / thoracic width, always set
  bool widened_mediastinum = false;
  // Pleura.
  Side effusion = Side::None;
  Grade effusion_grade = Grade::Mild;
  Side pneumothorax = Side::None;  // Right or Left
  Grade pneumothorax_grade = Grade::Mild;
  Side pleural_thickening = Side::None;  // apical cap, Right or Left
  // Lungs.
  bool opacity = false;
  OpacityKind opacity_kind = OpacityKind::Opacity;
  Lobe opacity_lobe = Lobe::RightLower;
  bool edema = false;
  Grade edema_grade = Grade::Mild;
  Side atelectasis = Side::None;  // Right, Left or Both (bibasilar)
  bool nodule = false;
  Lobe nodule_lobe = Lobe::RightUpper;
  int nodule_mm = 10;
  bool hyperinflation = false;
  // Devices and bones.
  bool pacemaker = false;
  bool central_line = false;
  Side central_line_side = Side::Right;  // internal jugular entry side
  bool rib_fracture = false;
  Side rib_fracture_side = Side::Right;
  int rib_fracture_rib = 6;  // 1-based posterior rib

  bool normal() const;  // nothing abnormal at all (the No Finding label may still be 1 with devices)
  // CheXpert labels (1 positive, 0 negative or not mentioned) of the report written for these
  // findings: every finding is stated positively, absent ones are negated or not mentioned.
  std::array<int, kNumChexpertLabels> chexpert_labels() const;
  // A compact description, e.g. {"cardiomegaly": "moderate", ...} as JSON text.
  std::string to_json() const;
};

// Draws findings with the phantom's prevalences (see docs/DATA.md).
PhantomFindings sample_findings(Rng& rng);

const char* side_name(Side s);    // "right", "left", "bilateral"
const char* lobe_name(Lobe l);    // "right upper lobe", ..., "lingula"
bool lobe_is_right(Lobe l);
const char* grade_name(Grade g);  // "mild", "moderate", "severe"

}  // namespace emrrg::data
