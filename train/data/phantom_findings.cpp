#include "train/data/phantom_findings.h"

#include <nlohmann/json.hpp>

namespace emrrg::data {

const char* side_name(Side s) {
  switch (s) {
    case Side::Right: return "right";
    case Side::Left: return "left";
    case Side::Both: return "bilateral";
    default: return "none";
  }
}

const char* lobe_name(Lobe l) {
  switch (l) {
    case Lobe::RightUpper: return "right upper lobe";
    case Lobe::RightMiddle: return "right middle lobe";
    case Lobe::RightLower: return "right lower lobe";
    case Lobe::LeftUpper: return "left upper lobe";
    case Lobe::Lingula: return "lingula";
    case Lobe::LeftLower: return "left lower lobe";
  }
  return "?";
}

bool lobe_is_right(Lobe l) { return l == Lobe::RightUpper || l == Lobe::RightMiddle || l == Lobe::RightLower; }

const char* grade_name(Grade g) {
  switch (g) {
    case Grade::Mild: return "mild";
    case Grade::Moderate: return "moderate";
    case Grade::Severe: return "severe";
  }
  return "?";
}

bool PhantomFindings::normal() const {
  return !cardiomegaly && !widened_mediastinum && effusion == Side::None && pneumothorax == Side::None &&
         pleural_thickening == Side::None && !opacity && !edema && atelectasis == Side::None && !nodule &&
         !hyperinflation && !pacemaker && !central_line && !rib_fracture;
}

std::array<int, kNumChexpertLabels> PhantomFindings::chexpert_labels() const {
  std::array<int, kNumChexpertLabels> l{};
  l[kEnlargedCardiomediastinum] = widened_mediastinum;
  l[kCardiomegaly] = cardiomegaly;
  l[kLungLesion] = nodule;
  l[kLungOpacity] = opacity && opacity_kind == OpacityKind::Opacity;
  l[kEdema] = edema;
  l[kConsolidation] = opacity && opacity_kind != OpacityKind::Opacity;
  l[kPneumonia] = opacity && opacity_kind == OpacityKind::Pneumonia;
  l[kAtelectasis] = atelectasis != Side::None;
  l[kPneumothorax] = pneumothorax != Side::None;
  l[kPleuralEffusion] = effusion != Side::None;
  l[kPleuralOther] = pleural_thickening != Side::None;
  l[kFracture] = rib_fracture;
  l[kSupportDevices] = pacemaker || central_line;
  // CheXpert: No Finding when no pathology (anything but Support Devices) is positive.
  bool any = false;
  for (int k = kEnlargedCardiomediastinum; k <= kFracture; ++k) any = any || l[k];
  l[kNoFinding] = !any;
  return l;
}

std::string PhantomFindings::to_json() const {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  auto grade3 = [](Grade g, const char* a, const char* b, const char* c) {
    return g == Grade::Mild ? a : (g == Grade::Moderate ? b : c);
  };
  j["cardiothoracic_ratio"] = static_cast<int>(cardiothoracic_ratio * 1000 + 0.5) / 1000.0;
  if (cardiomegaly) j["cardiomegaly"] = grade_name(cardiomegaly_grade);
  if (widened_mediastinum) j["widened_mediastinum"] = true;
  if (effusion != Side::None)
    j["pleural_effusion"] = std::string(side_name(effusion)) + " " + grade3(effusion_grade, "small", "moderate", "large");
  if (pneumothorax != Side::None)
    j["pneumothorax"] = std::string(side_name(pneumothorax)) + " " + grade3(pneumothorax_grade, "small", "moderate", "large");
  if (pleural_thickening != Side::None) j["apical_pleural_thickening"] = side_name(pleural_thickening);
  if (opacity) {
    const char* kind = opacity_kind == OpacityKind::Opacity ? "opacity"
                       : opacity_kind == OpacityKind::Consolidation ? "consolidation" : "pneumonia";
    j[kind] = lobe_name(opacity_lobe);
  }
  if (edema) j["edema"] = grade_name(edema_grade);
  if (atelectasis != Side::None) j["atelectasis"] = side_name(atelectasis);
  if (nodule) j["nodule"] = std::string(lobe_name(nodule_lobe)) + " " + std::to_string(nodule_mm) + " mm";
  if (hyperinflation) j["hyperinflation"] = true;
  if (pacemaker) j["pacemaker"] = true;
  if (central_line) j["central_line"] = std::string(side_name(central_line_side)) + " internal jugular";
  if (rib_fracture)
    j["healed_rib_fracture"] = std::string(side_name(rib_fracture_side)) + " rib " + std::to_string(rib_fracture_rib);
  return j.dump();
}

namespace {
Side pick_side(Rng& rng, double p_both) {
  if (rng.chance(p_both)) return Side::Both;
  return rng.chance(0.5) ? Side::Right : Side::Left;
}
Grade pick_grade(Rng& rng, double p_mild, double p_moderate) {
  const double u = rng.uniform();
  return u < p_mild ? Grade::Mild : (u < p_mild + p_moderate ? Grade::Moderate : Grade::Severe);
}
Lobe pick_lobe(Rng& rng) { return static_cast<Lobe>(rng.below(6)); }
}  // namespace

PhantomFindings sample_findings(Rng& rng) {
  PhantomFindings f;
  f.cardiomegaly = rng.chance(0.14);
  if (f.cardiomegaly) {
    f.cardiomegaly_grade = pick_grade(rng, 0.5, 0.35);
    const double lo[] = {0, 0.53, 0.58, 0.63};
    const int g = static_cast<int>(f.cardiomegaly_grade);
    f.cardiothoracic_ratio = rng.uniform(lo[g], lo[g] + 0.045);
  } else {
    f.cardiothoracic_ratio = rng.uniform(0.38, 0.47);
  }
  f.widened_mediastinum = rng.chance(0.025);
  f.edema = rng.chance(f.cardiomegaly ? 0.25 : 0.035);
  if (f.edema) f.edema_grade = rng.chance(0.6) ? Grade::Mild : Grade::Moderate;
  const double p_effusion = 0.07 + (f.edema ? 0.35 : 0.0) + (f.cardiomegaly ? 0.08 : 0.0);
  if (rng.chance(p_effusion)) {
    f.effusion = pick_side(rng, f.edema ? 0.6 : 0.25);
    f.effusion_grade = pick_grade(rng, 0.55, 0.3);
  }
  if (rng.chance(0.04)) {
    f.pneumothorax = rng.chance(0.5) ? Side::Right : Side::Left;
    f.pneumothorax_grade = rng.chance(0.65) ? Grade::Mild : Grade::Severe;
  }
  if (rng.chance(0.03)) f.pleural_thickening = rng.chance(0.5) ? Side::Right : Side::Left;
  f.opacity = rng.chance(0.12);
  if (f.opacity) {
    const double u = rng.uniform();
    f.opacity_kind = u < 0.4 ? OpacityKind::Opacity : (u < 0.8 ? OpacityKind::Consolidation : OpacityKind::Pneumonia);
    f.opacity_lobe = pick_lobe(rng);
  }
  if (rng.chance(0.09 + (f.effusion != Side::None ? 0.15 : 0.0))) f.atelectasis = pick_side(rng, 0.3);
  f.nodule = rng.chance(0.05);
  if (f.nodule) {
    f.nodule_lobe = pick_lobe(rng);
    f.nodule_mm = rng.range(6, 22);
  }
  f.hyperinflation = rng.chance(0.08);
  f.pacemaker = rng.chance(f.cardiomegaly ? 0.15 : 0.04);
  f.central_line = rng.chance(0.04);
  if (f.central_line) f.central_line_side = rng.chance(0.75) ? Side::Right : Side::Left;
  f.rib_fracture = rng.chance(0.05);
  if (f.rib_fracture) {
    f.rib_fracture_side = rng.chance(0.5) ? Side::Right : Side::Left;
    f.rib_fracture_rib = rng.range(4, 9);
  }
  return f;
}

}  // namespace emrrg::data
