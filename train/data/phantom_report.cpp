#include "train/data/phantom_report.h"

#include <cctype>
#include <vector>

namespace emrrg::data {

namespace {

// Priority decides what goes when a report runs long: 2 a finding (always kept), 1 a core
// normal statement (heart, lungs, pleura), 0 an extra (further negations, bones, closing).
constexpr size_t kMaxReportChars = 200;

struct Sentence {
  std::string text;
  int priority;
};
using Sentences = std::vector<Sentence>;

std::string capitalise(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

// Replaces every "{key}" in `pattern`.
std::string fill(std::string pattern, const std::string& key, const std::string& value) {
  const std::string k = "{" + key + "}";
  for (size_t p = pattern.find(k); p != std::string::npos; p = pattern.find(k, p + value.size()))
    pattern.replace(p, k.size(), value);
  return pattern;
}

const char* size_word(Grade g) {
  return g == Grade::Mild ? "small" : (g == Grade::Moderate ? "moderate" : "large");
}

std::string ordinal(int n) {
  const char* suffix = (n % 100 >= 11 && n % 100 <= 13) ? "th" : (n % 10 == 1 ? "st" : n % 10 == 2 ? "nd" : n % 10 == 3 ? "rd" : "th");
  return std::to_string(n) + suffix;
}

Sentences cardiac(const PhantomFindings& f, Rng& rng) {
  if (!f.cardiomegaly && !f.widened_mediastinum) {
    static const std::vector<std::string> both = {
        "The heart is normal in size. The mediastinum is unremarkable.",
        "Heart size and mediastinal contours are normal.",
        "The cardiomediastinal silhouette is within normal limits.",
        "Normal heart size. Normal mediastinal contours.",
        "The heart size is normal. Mediastinal contours are within normal limits.",
        "The cardiac and mediastinal silhouettes are unremarkable.",
        "The heart is normal in size.",
        "Heart size is normal.",
    };
    return {{rng.pick(both), 1}};
  }
  Sentences out;
  if (f.cardiomegaly) {
    static const std::vector<std::string> mild = {"Mild cardiomegaly.", "The heart is mildly enlarged.",
                                                  "Mild enlargement of the cardiac silhouette.", "There is mild cardiomegaly."};
    static const std::vector<std::string> moderate = {"Moderate cardiomegaly.", "The heart is moderately enlarged.",
                                                      "There is moderate cardiomegaly.", "Moderate enlargement of the cardiac silhouette."};
    static const std::vector<std::string> severe = {"Marked cardiomegaly.", "The heart is severely enlarged.",
                                                    "There is severe cardiomegaly.", "Severe cardiomegaly."};
    out.push_back({rng.pick(f.cardiomegaly_grade == Grade::Mild ? mild
                            : f.cardiomegaly_grade == Grade::Moderate ? moderate : severe),
                   2});
  } else {
    static const std::vector<std::string> heart = {"The heart is normal in size.", "Heart size is normal.",
                                                   "Normal heart size.", "The heart size is within normal limits."};
    if (rng.chance(0.8)) out.push_back({rng.pick(heart), 1});
  }
  if (f.widened_mediastinum) {
    static const std::vector<std::string> wide = {"The mediastinum is widened.", "There is widening of the mediastinum.",
                                                  "The superior mediastinum is widened.", "Widened mediastinum."};
    out.push_back({rng.pick(wide), 2});
  } else if (rng.chance(0.6)) {
    static const std::vector<std::string> med = {"The mediastinum is unremarkable.", "Mediastinal contours are normal.",
                                                 "Normal mediastinal contours.", "The mediastinal contours are within normal limits."};
    out.push_back({rng.pick(med), 0});
  }
  if (rng.chance(0.5)) std::swap(out.front(), out.back());
  return out;
}

Sentences lungs(const PhantomFindings& f, Rng& rng) {
  const bool parenchymal = f.opacity || f.edema || f.atelectasis != Side::None || f.nodule;
  Sentences out;
  if (!parenchymal) {
    if (f.hyperinflation) {
      static const std::vector<std::string> hyper = {
          "The lungs are hyperinflated but clear.", "The lungs are hyperinflated. No focal airspace disease.",
          "Hyperinflated lungs without focal consolidation.", "The lungs are hyperexpanded and clear.",
          "Flattened diaphragms and hyperinflated lungs. The lungs are clear."};
      out.push_back({rng.pick(hyper), 2});
    } else {
      static const std::vector<std::string> clear = {
          "The lungs are clear.", "Lungs are clear.", "The lungs are clear bilaterally.", "No focal airspace disease.",
          "No focal consolidation.", "The lungs are free of focal airspace disease.", "Clear lungs.",
          "The lungs are clear. No focal airspace consolidation."};
      out.push_back({rng.pick(clear), 1});
    }
    return out;
  }
  if (f.hyperinflation) {
    static const std::vector<std::string> hyper = {"The lungs are hyperinflated.", "The lungs are hyperexpanded.",
                                                   "Hyperinflated lungs with flattened diaphragms."};
    out.push_back({rng.pick(hyper), 2});
  }
  if (f.opacity) {
    const std::string lobe = lobe_name(f.opacity_lobe);
    static const std::vector<std::string> opacity = {"Focal airspace opacity in the {lobe}.",
                                                     "There is patchy opacity in the {lobe}.",
                                                     "Airspace opacity in the {lobe}.",
                                                     "Patchy airspace opacity is seen in the {lobe}."};
    static const std::vector<std::string> consolidation = {"Focal consolidation in the {lobe}.",
                                                           "There is consolidation in the {lobe}.",
                                                           "Focal airspace consolidation in the {lobe}.",
                                                           "Consolidation is present in the {lobe}."};
    static const std::vector<std::string> pneumonia = {"Consolidation in the {lobe} consistent with pneumonia.",
                                                       "Focal consolidation in the {lobe}, consistent with pneumonia.",
                                                       "There is {lobe} consolidation consistent with pneumonia."};
    const auto& bank = f.opacity_kind == OpacityKind::Opacity ? opacity
                       : f.opacity_kind == OpacityKind::Consolidation ? consolidation : pneumonia;
    out.push_back({fill(rng.pick(bank), "lobe", lobe), 2});
  }
  if (f.edema) {
    static const std::vector<std::string> mild = {"Mild pulmonary edema.", "There is mild interstitial edema.",
                                                  "Mild interstitial pulmonary edema.", "Mild perihilar edema."};
    static const std::vector<std::string> moderate = {"Moderate pulmonary edema.", "There is moderate bilateral pulmonary edema.",
                                                      "Moderate interstitial and perihilar edema."};
    out.push_back({rng.pick(f.edema_grade == Grade::Mild ? mild : moderate), 2});
  }
  if (f.atelectasis != Side::None) {
    if (f.atelectasis == Side::Both) {
      static const std::vector<std::string> both = {"Bibasilar atelectasis.", "Linear atelectasis at both lung bases.",
                                                    "Bibasilar subsegmental atelectasis.", "There is bibasilar atelectasis."};
      out.push_back({rng.pick(both), 2});
    } else {
      static const std::vector<std::string> one = {"Linear atelectasis at the {side} lung base.", "{side} basilar atelectasis.",
                                                   "Plate-like atelectasis in the {side} lower lung.",
                                                   "There is subsegmental atelectasis at the {side} base."};
      out.push_back({capitalise(fill(rng.pick(one), "side", side_name(f.atelectasis))), 2});
    }
  }
  if (f.nodule) {
    std::vector<std::string> nodule = {"There is a {mm} mm nodule in the {lobe}.", "A {mm} mm nodule is seen in the {lobe}.",
                                       "Pulmonary nodule in the {lobe} measuring {mm} mm."};
    if (f.nodule_mm <= 10) nodule.push_back("Small nodule in the {lobe}.");
    std::string sentence = fill(fill(rng.pick(nodule), "mm", std::to_string(f.nodule_mm)), "lobe", lobe_name(f.nodule_lobe));
    const bool vowel_sound = f.nodule_mm == 8 || f.nodule_mm == 11 || f.nodule_mm == 18;  // "an 8 mm", "an 11 mm"
    if (vowel_sound) {
      if (sentence.rfind("A ", 0) == 0) sentence = "An" + sentence.substr(1);
      const auto p = sentence.find(" a " + std::to_string(f.nodule_mm));
      if (p != std::string::npos) sentence = sentence.substr(0, p + 2) + "n" + sentence.substr(p + 2);
    }
    out.push_back({sentence, 2});
  }
  // Negations of what is absent, sometimes.
  if (!f.opacity && rng.chance(0.4)) {
    static const std::vector<std::string> neg = {"No focal consolidation.", "No focal airspace consolidation.",
                                                 "There is no focal consolidation."};
    out.push_back({rng.pick(neg), 0});
  }
  if (!f.edema && rng.chance(0.25)) {
    static const std::vector<std::string> neg = {"No pulmonary edema.", "There is no pulmonary edema."};
    out.push_back({rng.pick(neg), 0});
  }
  // Findings in a random order after the (optional) hyperinflation sentence.
  const size_t start = f.hyperinflation ? 1 : 0;
  for (size_t i = out.size(); i > start + 1; --i) std::swap(out[i - 1], out[start + rng.below(i - start)]);
  return out;
}

Sentences pleura(const PhantomFindings& f, Rng& rng) {
  Sentences out;
  if (f.effusion == Side::None && f.pneumothorax == Side::None) {
    static const std::vector<std::string> neg = {
        "No pleural effusion or pneumothorax.", "There is no pneumothorax or pleural effusion.",
        "No pneumothorax or pleural effusion.", "No pleural effusions or pneumothoraces.",
        "No pneumothorax. No pleural effusion.", "There is no pleural effusion or pneumothorax."};
    out.push_back({rng.pick(neg), 1});
  }
  if (f.effusion != Side::None) {
    const std::string size = size_word(f.effusion_grade);
    if (f.effusion == Side::Both) {
      static const std::vector<std::string> both = {"{size} bilateral pleural effusions.",
                                                    "There are {size} bilateral pleural effusions.",
                                                    "Bilateral {size} pleural effusions."};
      out.push_back({capitalise(fill(rng.pick(both), "size", size)), 2});
    } else {
      std::vector<std::string> one = {"{size} {side} pleural effusion.", "There is a {size} {side} pleural effusion.",
                                      "{side} pleural effusion, {size}."};
      if (f.effusion_grade == Grade::Mild)
        one.push_back("{size} {side} pleural effusion with blunting of the costophrenic angle.");
      out.push_back({capitalise(fill(fill(rng.pick(one), "size", size), "side", side_name(f.effusion))), 2});
    }
    if (f.pneumothorax == Side::None && rng.chance(0.7)) {
      static const std::vector<std::string> neg = {"No pneumothorax.", "There is no pneumothorax."};
      out.push_back({rng.pick(neg), 0});
    }
  }
  if (f.pneumothorax != Side::None) {
    const std::string size = f.pneumothorax_grade == Grade::Mild ? "small" : "large";
    static const std::vector<std::string> ptx = {"{size} {side} pneumothorax.", "There is a {size} {side} apical pneumothorax.",
                                                 "{side} pneumothorax, {size}.", "A {size} {side} pneumothorax is present."};
    out.push_back({capitalise(fill(fill(rng.pick(ptx), "size", size), "side", side_name(f.pneumothorax))), 2});
    if (f.effusion == Side::None && rng.chance(0.7)) {
      static const std::vector<std::string> neg = {"No pleural effusion.", "No pleural effusions."};
      out.push_back({rng.pick(neg), 0});
    }
  }
  if (f.pleural_thickening != Side::None) {
    static const std::vector<std::string> cap = {"Mild {side} apical pleural thickening.", "{side} apical pleural thickening.",
                                                 "There is {side} apical pleural thickening."};
    out.push_back({capitalise(fill(rng.pick(cap), "side", side_name(f.pleural_thickening))), 2});
  }
  if (out.size() > 1 && rng.chance(0.3)) std::swap(out.front(), out.back());
  return out;
}

Sentences devices(const PhantomFindings& f, Rng& rng) {
  Sentences out;
  if (f.pacemaker) {
    static const std::vector<std::string> pm = {
        "Left chest wall pacemaker with leads in the right atrium and right ventricle.", "A dual-lead pacemaker is present.",
        "Left-sided pacemaker in place.", "Left chest wall dual-chamber pacemaker with leads in expected position."};
    out.push_back({rng.pick(pm), 2});
  }
  if (f.central_line) {
    static const std::vector<std::string> line = {
        "{side} internal jugular central venous catheter with tip in the superior vena cava.",
        "{side} IJ central line with tip in the SVC.",
        "A {side}-sided central venous catheter terminates in the superior vena cava."};
    out.push_back({capitalise(fill(rng.pick(line), "side", side_name(f.central_line_side))), 2});
  }
  return out;
}

Sentences bones(const PhantomFindings& f, Rng& rng) {
  if (f.rib_fracture) {
    static const std::vector<std::string> fx = {"Healed {side} {nth} rib fracture.", "Old healed fracture of the {side} {nth} rib.",
                                                "Healed fracture deformity of a {side} posterior rib.",
                                                "There is a healed fracture of the {side} {nth} posterior rib."};
    return {{capitalise(fill(fill(rng.pick(fx), "side", side_name(f.rib_fracture_side)), "nth", ordinal(f.rib_fracture_rib))), 2}};
  }
  if (!rng.chance(0.55)) return {};
  static const std::vector<std::string> ok = {"No acute bony abnormality.", "The osseous structures are intact.",
                                              "Visualized osseous structures are unremarkable.", "No acute osseous abnormality.",
                                              "Bony structures are intact."};
  return {{rng.pick(ok), 0}};
}

}  // namespace

std::string write_phantom_report(const PhantomFindings& f, Rng& rng) {
  std::vector<Sentences> groups;
  Sentences c = cardiac(f, rng), l = lungs(f, rng), p = pleura(f, rng), d = devices(f, rng), b = bones(f, rng);
  // Usual order heart, lungs, pleura, bones; lungs first or pleura before lungs sometimes;
  // devices first or last.
  if (rng.chance(0.2)) {
    groups = {l, c, p};
  } else if (rng.chance(0.25)) {
    groups = {c, p, l};
  } else {
    groups = {c, l, p};
  }
  if (!d.empty()) {
    if (rng.chance(0.5)) groups.insert(groups.begin(), d);
    else groups.push_back(d);
  }
  groups.push_back(b);
  if (f.normal() && rng.chance(0.3)) {
    static const std::vector<std::string> closing = {"No acute cardiopulmonary abnormality.",
                                                     "No acute cardiopulmonary disease.",
                                                     "No acute cardiopulmonary process."};
    groups.push_back({{rng.pick(closing), 0}});
  }
  Sentences all;
  for (const auto& g : groups) all.insert(all.end(), g.begin(), g.end());
  // Keep reports within about 60 Llama tokens (IU X-ray's max_length): drop extras, then core
  // normal statements, last first, while the text is long. Findings always stay.
  auto length = [&] {
    size_t n = 0;
    for (const auto& s : all) n += s.text.size() + 1;
    return n;
  };
  for (int priority = 0; priority <= 1; ++priority)
    for (size_t i = all.size(); i-- > 0 && length() > kMaxReportChars;)
      if (all[i].priority == priority) all.erase(all.begin() + static_cast<std::ptrdiff_t>(i));
  std::string text;
  for (const auto& s : all) {
    if (!text.empty()) text += ' ';
    text += s.text;
  }
  return text;
}

}  // namespace emrrg::data
