#include "train/metrics/chexpert_labeller.h"

#include <algorithm>
#include <string>
#include <vector>

#include "train/metrics/text.h"

namespace emrrg::metrics {

namespace {

using Words = std::vector<std::string>;

// ---- Tokenisation: lower-case words; '.', '?', '!' end a sentence; ';' ':' ',' are kept
// as tokens; '-', '/', apostrophes and other symbols separate words.
std::vector<Words> sentences_of(std::string_view report) {
  const std::string text = to_lower(report);
  std::vector<Words> out(1);
  std::string word;
  auto flush = [&] {
    if (!word.empty()) out.back().push_back(std::move(word));
    word.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || u >= 0x80) {
      word.push_back(c);
    } else if (c == '\'') {
      continue;  // "can't" -> "cant"
    } else if (c == '.' && !word.empty() && i + 1 < text.size() && text[i + 1] >= '0' && text[i + 1] <= '9' &&
               word.back() >= '0' && word.back() <= '9') {
      word.push_back(c);  // "3.5"
    } else {
      flush();
      if (c == '.' || c == '?' || c == '!' || c == '\n') {
        if (!out.back().empty()) out.emplace_back();
      } else if (c == ';' || c == ':' || c == ',') {
        out.back().push_back(std::string(1, c));
      }
    }
  }
  flush();
  if (out.back().empty()) out.pop_back();
  return out;
}

Words split_phrase(std::string_view p) { return split_whitespace(p); }

// ---- Mentions.
struct Phrase {
  Words words;
  int label;
};

std::vector<Phrase> make_phrases(std::initializer_list<std::pair<int, std::initializer_list<const char*>>> spec) {
  std::vector<Phrase> out;
  for (const auto& [label, phrases] : spec)
    for (const char* p : phrases) out.push_back({split_phrase(p), label});
  return out;
}

const std::vector<Phrase>& mention_phrases() {
  static const std::vector<Phrase> phrases = make_phrases({
      {kEnlargedCardiomediastinum,
       {"enlarged cardiomediastinum", "widened mediastinum", "mediastinal widening", "mediastinal enlargement",
        "enlarged mediastinum", "widening of the mediastinum", "enlargement of the mediastinum",
        "enlarged cardiomediastinal silhouette", "enlarged mediastinal silhouette", "prominent mediastinum"}},
      {kCardiomegaly,
       {"cardiomegaly", "enlarged heart", "cardiac enlargement", "enlargement of the heart",
        "enlarged cardiac silhouette", "enlargement of the cardiac silhouette", "cardiac silhouette enlargement"}},
      {kLungLesion,
       {"nodule", "nodules", "nodular opacity", "nodular opacities", "nodular density", "nodular densities",
        "mass", "masses", "lesion", "lesions", "tumor", "tumors", "tumour", "neoplasm", "neoplasms", "carcinoma",
        "metastasis", "metastases", "metastatic disease", "cavitary lesion", "cavitation", "pulmonary mass"}},
      {kLungOpacity,
       {"opacity", "opacities", "opacification", "opacifications", "opacified", "density", "densities",
        "infiltrate", "infiltrates", "infiltration", "airspace disease", "air space disease", "haziness", "hazy",
        "ground glass", "reticular", "reticulonodular", "interstitial markings", "interstitial marking",
        "interstitial opacities", "interstitial opacity", "interstitial lung disease", "interstitial disease",
        "increased markings", "increased interstitial markings", "bronchovascular markings"}},
      {kEdema,
       {"edema", "oedema", "vascular congestion", "pulmonary congestion", "venous congestion",
        "congestive heart failure", "heart failure", "chf", "kerley b lines", "kerley lines",
        "fluid overload", "vascular engorgement", "cephalization", "cephalisation"}},
      {kConsolidation, {"consolidation", "consolidations", "consolidative", "consolidated"}},
      {kPneumonia,
       {"pneumonia", "pneumonias", "bronchopneumonia", "infection", "infections", "infectious process",
        "infectious", "aspiration"}},
      {kAtelectasis,
       {"atelectasis", "atelectases", "atelectatic", "lobar collapse", "lung collapse", "collapse of the",
        "collapsed lung", "collapsed lobe"}},
      {kPneumothorax, {"pneumothorax", "pneumothoraces", "hydropneumothorax", "ptx"}},
      {kPleuralEffusion,
       {"pleural effusion", "pleural effusions", "effusion", "effusions", "pleural fluid",
        "blunting of the costophrenic angle", "blunting of the costophrenic angles",
        "blunting of costophrenic angle", "costophrenic angle blunting", "blunted costophrenic angle",
        "blunted costophrenic angles"}},
      {kPleuralOther,
       {"pleural thickening", "pleural scarring", "pleural plaque", "pleural plaques", "pleural calcification",
        "pleural calcifications", "fibrothorax", "pleural abnormality", "pleural abnormalities"}},
      {kFracture, {"fracture", "fractures", "fractured", "fx"}},
      {kSupportDevices,
       {"tube", "tubes", "endotracheal tube", "et tube", "ett", "chest tube", "ng tube", "og tube",
        "enteric tube", "feeding tube", "nasogastric tube", "orogastric tube", "tracheostomy", "catheter",
        "catheters", "picc", "picc line", "central line", "central venous line", "ij line", "midline catheter",
        "port", "port a cath", "portacath", "pacemaker", "pacer", "pacing wire", "pacing wires", "pacing leads",
        "pacemaker leads", "icd", "aicd", "defibrillator", "stent", "stents", "clip", "clips", "surgical clips",
        "sternotomy wires", "sternal wires", "wire", "wires", "valve replacement", "prosthetic valve",
        "hardware", "device", "devices", "drain", "drains", "swan ganz", "dobhoff", "lvad", "iabp",
        "balloon pump", "coil", "coils", "monitoring leads", "ekg leads", "ecg leads"}},
  });
  return phrases;
}

// Subject + descriptor mentions: "the heart is enlarged", "heart size is normal",
// "normal cardiac silhouette", "the costophrenic angles are sharp".
enum class Descriptor { kAbnormal, kNormal, kBorderline };
struct SubjectRule {
  int label;
  std::vector<Words> subjects;
  std::vector<std::pair<Words, Descriptor>> descriptors;
};

std::vector<Words> words_of(std::initializer_list<const char*> ps) {
  std::vector<Words> out;
  for (const char* p : ps) out.push_back(split_phrase(p));
  return out;
}

const std::vector<SubjectRule>& subject_rules() {
  static const std::vector<SubjectRule> rules = [] {
    std::vector<std::pair<Words, Descriptor>> size_desc;
    for (const char* p : {"enlarged", "enlargement", "large", "big", "increased", "prominent", "widened", "wide",
                          "widening"})
      size_desc.push_back({split_phrase(p), Descriptor::kAbnormal});
    for (const char* p : {"normal", "unremarkable", "within normal limits", "normal limits"})
      size_desc.push_back({split_phrase(p), Descriptor::kNormal});
    for (const char* p : {"borderline", "top normal", "top of normal", "upper limits of normal",
                          "upper limit of normal", "upper normal"})
      size_desc.push_back({split_phrase(p), Descriptor::kBorderline});
    std::vector<SubjectRule> r;
    r.push_back({kCardiomegaly,
                 words_of({"heart", "heart size", "cardiac silhouette", "cardiac size", "cardiac contour",
                           "cardiac contours", "cardiac shadow", "size of the heart"}),
                 size_desc});
    r.push_back({kEnlargedCardiomediastinum,
                 words_of({"mediastinum", "mediastinal contour", "mediastinal contours", "mediastinal silhouette",
                           "cardiomediastinal silhouette", "cardiomediastinal contour", "cardiomediastinal contours",
                           "cardiomediastinal silhouettes", "mediastinal width", "hilar and mediastinal contours",
                           "cardiomediastinal and hilar contours", "mediastinal and hilar contours"}),
                 size_desc});
    std::vector<std::pair<Words, Descriptor>> angle_desc;
    for (const char* p : {"blunted", "blunting"}) angle_desc.push_back({split_phrase(p), Descriptor::kAbnormal});
    for (const char* p : {"sharp", "clear", "normal", "preserved"})
      angle_desc.push_back({split_phrase(p), Descriptor::kNormal});
    r.push_back({kPleuralEffusion, words_of({"costophrenic angle", "costophrenic angles", "costophrenic sulci"}),
                 angle_desc});
    return r;
  }();
  return rules;
}

// ---- Cues.
enum class CueType { kNegation, kUncertainty };
enum class CueDirection { kPre, kPost };
struct Cue {
  Words words;
  CueType type;
  CueDirection direction;
};

const std::vector<Cue>& cues() {
  static const std::vector<Cue> all = [] {
    std::vector<Cue> c;
    auto add = [&](CueType t, CueDirection d, std::initializer_list<const char*> ps) {
      for (const char* p : ps) c.push_back({split_phrase(p), t, d});
    };
    using enum CueType;
    using enum CueDirection;
    // Uncertainty phrases that contain a negation word come first in the longest-match race
    // only by length; they are listed here like any other cue.
    add(kUncertainty, kPre,
        {"cannot exclude", "can not exclude", "cant exclude", "cannot rule out", "can not rule out",
         "cant rule out", "difficult to exclude", "not exclude", "may", "might", "could", "possible", "possibly",
         "probable", "probably", "likely", "questionable", "questionably", "question of", "suspicious for",
         "suspicion of", "suspicion for", "suspected", "concerning for", "concern for", "suggestive of",
         "suggesting", "suggests", "suggest", "versus", "vs", "differential", "equivocal", "indeterminate",
         "presumed", "presumably", "possibility of", "worrisome for", "or possibly"});
    add(kUncertainty, kPost,
        {"cannot be excluded", "can not be excluded", "cant be excluded", "not excluded", "not be excluded",
         "cannot be ruled out", "can not be ruled out", "not ruled out", "not entirely excluded", "possible",
         "suspected", "likely", "questioned", "versus", "vs", "is possible", "not be ruled out"});
    add(kNegation, kPre,
        {"no", "not", "without", "negative for", "free of", "absence of", "absent", "no evidence of",
         "no signs of", "no sign of", "no longer", "removal of", "resolution of", "resolved", "clear of",
         "rather than", "never", "nor", "neither", "rules out", "ruled out", "isnt", "arent", "wasnt", "werent",
         "doesnt", "dont", "didnt", "hasnt", "havent"});
    add(kNegation, kPost,
        {"not seen", "not identified", "not present", "not visualized", "not appreciated", "not demonstrated",
         "not evident", "not noted", "not detected", "not visible", "not enlarged", "resolved", "removed",
         "absent", "ruled out", "excluded", "no longer seen", "no longer visualized", "no longer present",
         "has resolved", "have resolved", "has been removed", "have been removed"});
    return c;
  }();
  return all;
}

// Clause boundaries: a negation or uncertainty cue does not reach past these.
bool is_boundary_word(const Words& s, std::size_t i) {
  static const std::vector<std::string> words = {"but", "however", "although", "though", "except", "whereas",
                                                 "while", "yet", "which", "aside", "apart", ";", ":"};
  if (std::find(words.begin(), words.end(), s[i]) != words.end()) return true;
  // "... and the heart is enlarged", "... and there is ...": a new clause.
  return s[i] == "and" && i + 1 < s.size() && (s[i + 1] == "the" || s[i + 1] == "there");
}

bool matches_at(const Words& s, std::size_t i, const Words& p) {
  if (i + p.size() > s.size()) return false;
  for (std::size_t k = 0; k < p.size(); ++k)
    if (s[i + k] != p[k]) return false;
  return true;
}

struct Mention {
  int label;
  std::size_t begin, end;  // token span
  std::optional<int> fixed;  // value decided by the mention itself (normal / borderline)
};

struct FoundCue {
  const Cue* cue;
  std::size_t begin, end;
};

// Word tokens strictly between two positions (commas do not count).
int words_between(const Words& s, std::size_t from, std::size_t to) {
  int n = 0;
  for (std::size_t i = from; i < to; ++i) n += s[i] != ",";
  return n;
}

bool boundary_between(const Words& s, std::size_t from, std::size_t to) {
  for (std::size_t i = from; i < to; ++i)
    if (is_boundary_word(s, i)) return true;
  return false;
}

constexpr int kPreScope = 8;   // words a pre-cue reaches forward
constexpr int kPostScope = 3;  // words between a mention and a post-cue

int classify(const Words& s, const Mention& m, const std::vector<FoundCue>& found) {
  if (m.fixed) return *m.fixed;
  // "not" inside a subject-descriptor span: "the heart is not enlarged".
  for (std::size_t i = m.begin; i < m.end; ++i)
    if (s[i] == "not" || s[i] == "no") return kNegative;
  auto in_scope = [&](const FoundCue& c) {
    if (c.cue->direction == CueDirection::kPre) {
      return c.end <= m.begin && !boundary_between(s, c.end, m.begin) &&
             words_between(s, c.end, m.begin) <= kPreScope;
    }
    return c.begin >= m.end && !boundary_between(s, m.end, c.begin) && words_between(s, m.end, c.begin) <= kPostScope;
  };
  // Uncertainty phrases built on a negation ("cannot exclude") are matched as whole cues, so
  // they never count as negations; then negation wins over plain uncertainty, as in CheXpert.
  for (const auto& c : found)
    if (c.cue->type == CueType::kUncertainty && c.cue->words.size() > 1 && in_scope(c) &&
        std::any_of(c.cue->words.begin(), c.cue->words.end(),
                    [](const std::string& w) { return w == "not" || w == "cannot" || w == "cant" || w == "exclude"; }))
      return kUncertain;
  for (const auto& c : found)
    if (c.cue->type == CueType::kNegation && in_scope(c)) return kNegative;
  for (const auto& c : found)
    if (c.cue->type == CueType::kUncertainty && in_scope(c)) return kUncertain;
  return kPositive;
}

void label_sentence(const Words& s, ChexpertLabels& labels) {
  // Mentions: longest phrase first at each position; subject rules add spans.
  std::vector<Mention> mentions;
  std::vector<bool> covered(s.size(), false);
  for (const auto& rule : subject_rules()) {
    for (std::size_t i = 0; i < s.size(); ++i) {
      std::size_t subj_len = 0;
      for (const auto& subj : rule.subjects)
        if (matches_at(s, i, subj)) subj_len = std::max(subj_len, subj.size());
      if (subj_len == 0) continue;
      // Descriptor after the subject within the clause ("heart size is mildly enlarged"), or
      // right before it ("normal heart size", "mildly enlarged heart").
      std::optional<Mention> found;
      for (std::size_t j = i + subj_len; j < s.size() && j <= i + subj_len + 6 && !found; ++j) {
        if (is_boundary_word(s, j) && s[j] != ":") break;  // "Heart: normal" is one statement
        for (const auto& [desc, kind] : rule.descriptors) {
          if (!matches_at(s, j, desc)) continue;
          Mention m{rule.label, i, j + desc.size(), std::nullopt};
          if (kind == Descriptor::kNormal) m.fixed = kNegative;
          if (kind == Descriptor::kBorderline) m.fixed = kUncertain;
          // "not normal" reads as abnormal; "not enlarged" is handled by classify().
          if (kind == Descriptor::kNormal && j > 0 && (s[j - 1] == "not")) m.fixed = kPositive;
          found = m;
          break;
        }
      }
      for (std::size_t back = 1; back <= 2 && back <= i && !found; ++back) {
        for (const auto& [desc, kind] : rule.descriptors) {
          if (desc.size() + (back - 1) > i || !matches_at(s, i - desc.size() - (back - 1), desc)) continue;
          if (back == 2 && s[i - 1] != "sized" && s[i - 1] != "size") continue;  // "normal sized heart"
          Mention m{rule.label, i - desc.size() - (back - 1), i + subj_len, std::nullopt};
          if (kind == Descriptor::kNormal) m.fixed = kNegative;
          if (kind == Descriptor::kBorderline) m.fixed = kUncertain;
          found = m;
          break;
        }
      }
      if (found) {
        for (std::size_t k = found->begin; k < found->end; ++k) covered[k] = true;
        mentions.push_back(*found);
      }
      i += subj_len - 1;
    }
  }
  for (std::size_t i = 0; i < s.size();) {
    const Phrase* best = nullptr;
    for (const auto& p : mention_phrases())
      if (matches_at(s, i, p.words) && (best == nullptr || p.words.size() > best->words.size())) best = &p;
    if (best == nullptr || covered[i]) {
      ++i;
      continue;
    }
    mentions.push_back({best->label, i, i + best->words.size(), std::nullopt});
    if (best->words.size() == 1 && s[i] == "hydropneumothorax")
      mentions.push_back({kPleuralEffusion, i, i + 1, std::nullopt});
    i += best->words.size();
  }
  // Cues: longest first, tokens used once.
  std::vector<FoundCue> found;
  for (std::size_t i = 0; i < s.size();) {
    const Cue* best = nullptr;
    for (const auto& c : cues())
      if (matches_at(s, i, c.words) && (best == nullptr || c.words.size() > best->words.size())) best = &c;
    if (best == nullptr) {
      ++i;
      continue;
    }
    // A cue phrase listed both as pre and post: keep both readings.
    for (const auto& c : cues())
      if (c.words == best->words) found.push_back({&c, i, i + c.words.size()});
    i += best->words.size();
  }
  for (const auto& m : mentions) {
    const int v = classify(s, m, found);
    auto& cur = labels[m.label];
    // Aggregation: positive > uncertain > negative.
    auto rank = [](int x) { return x == kPositive ? 3 : x == kUncertain ? 2 : 1; };
    if (!cur || rank(v) > rank(*cur)) cur = v;
  }
}

}  // namespace

ChexpertLabels label_report(std::string_view report) {
  ChexpertLabels labels;
  for (const auto& sentence : sentences_of(report)) label_sentence(sentence, labels);
  bool finding = false;
  for (int k = kEnlargedCardiomediastinum; k <= kFracture; ++k)
    finding = finding || (labels[k] && (*labels[k] == kPositive || *labels[k] == kUncertain));
  if (!finding) labels[kNoFinding] = kPositive;
  return labels;
}

}  // namespace emrrg::metrics
