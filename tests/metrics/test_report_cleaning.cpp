// Report cleaning against the outputs of the reference Python functions (R2Gen's
// clean_report_iu_xray / clean_report_mimic_cxr and R2GenGPT's MIMIC variant), run on inputs
// chosen to exercise every rule: ".." collapsing, enumeration removal, the ':'..'[' range,
// kept '-', deleted quotes and slashes, empty sentences, newlines, "__" and double spaces.
#include <gtest/gtest.h>

#include <string>

#include "train/metrics/report_cleaning.h"

namespace emrrg::metrics {
namespace {

struct Case {
  const char* input;
  const char* iu;
  const char* mimic;
  const char* mimic_r2gengpt;
};

const Case kCases[] = {
    {"The heart is normal in size. The mediastinum is unremarkable. The lungs are clear.",
     "the heart is normal in size . the mediastinum is unremarkable . the lungs are clear .",
     "the heart is normal in size . the mediastinum is unremarkable . the lungs are clear .",
     "the heart is normal in size . the mediastinum is unremarkable . the lungs are clear ."},
    {"1. No acute cardiopulmonary abnormality. 2. Stable cardiomegaly. 3. Low lung volumes.. 4. Mild edema. 5. Done",
     "no acute cardiopulmonary abnormality . stable cardiomegaly . low lung volumes . mild edema . done .",
     "no acute cardiopulmonary abnormality . stable cardiomegaly . low lung volumes . mild edema . done .",
     "no acute cardiopulmonary abnormality . stable cardiomegaly . low lung volumes . mild edema . done ."},
    {"Heart size normal... Lungs clear.. No effusion",
     "heart size normal . lungs clear . no effusion .",
     "heart size normal . lungs clear . no effusion .",
     "heart size normal . lungs clear . no effusion ."},
    {"Findings: Heart size is XXXX; the lungs are clear! No pneumothorax? (Stable) [old] {note} 50% + 3^2 & a_b * c",
     "findings heart size is xxxx the lungs are clear no pneumothorax stable old note 50  32  ab  c .",
     "findings heart size is xxxx the lungs are clear no pneumothorax stable old note 50  32  ab  c .",
     "findings : heart size is xxxx the lungs are clear no pneumothorax stable old note 50  32  ab  c ."},
    {"The patient's \"ET\" tube/line is 3.5 cm above the carina\\ left-sided port-a-cath <in place> @ 10=10 ~ok",
     "the patients et tubeline is 35 cm above the carina left-sided port-a-cath in place  1010 ~ok .",
     "the patients et tubeline is 35 cm above the carina left-sided port-a-cath in place  1010 ~ok .",
     "the patients et tubeline is 35 cm above the carina left-sided port-a-cath <in place> @ 10=10 ~ok ."},
    {"  Leading and trailing spaces.  Double  spaces .  ",
     "leading and trailing spaces . double  spaces  .",
     "leading and trailing spaces . double spaces  .",
     "leading and trailing spaces . double spaces  ."},
    {"Sentence one.. . Sentence three. ",
     "sentence one .  . sentence three .",
     "sentence one .  . sentence three .",
     "sentence one .  . sentence three ."},
    {"Comparison: ___. \n\nFINDINGS:\n\nPA and lateral views of the chest __ show  no acute process.\n\nIMPRESSION:   No acute cardiopulmonary process....",
     "comparison  . findings\n\npa and lateral views of the chest  show  no acute process\n\nimpression   no acute cardiopulmonary process .",
     "comparison  . findings pa and lateral views of the chest  show no acute process . impression no acute cardiopulmonary process .",
     "comparison :  . findings : pa and lateral views of the chest  show no acute process . impression : no acute cardiopulmonary process ."},
    {"No pneumothorax.  There is a 2. 5 cm nodule; 11. Unchanged 12. 3 mm",
     "no pneumothorax . there is a . 5 cm nodule 1unchanged 12 . 3 mm .",
     "no pneumothorax . there is a . 5 cm nodule 1unchanged 12 . 3 mm .",
     "no pneumothorax . there is a . 5 cm nodule 1unchanged 12 . 3 mm ."},
    {"",
     " .",
     " .",
     " ."},
    {".",
     " .",
     " .",
     " ."},
    {"\xC3\x89""DEMA is PRESENT: \xC3\x84""bc. Na\xC3\xAF""ve caf\xC3\xA9"".",
     "\xC3\xA9""dema is present \xC3\xA4""bc . na\xC3\xAF""ve caf\xC3\xA9"" .",
     "\xC3\xA9""dema is present \xC3\xA4""bc . na\xC3\xAF""ve caf\xC3\xA9"" .",
     "\xC3\xA9""dema is present : \xC3\xA4""bc . na\xC3\xAF""ve caf\xC3\xA9"" ."},};

TEST(ReportCleaning, IuXrayMatchesR2Gen) {
  for (const auto& c : kCases) EXPECT_EQ(clean_report(c.input, CleaningStyle::kIuXray), c.iu) << c.input;
}

TEST(ReportCleaning, MimicMatchesR2Gen) {
  for (const auto& c : kCases) EXPECT_EQ(clean_report(c.input, CleaningStyle::kMimicCxr), c.mimic) << c.input;
}

TEST(ReportCleaning, MimicMatchesR2GenGPT) {
  for (const auto& c : kCases)
    EXPECT_EQ(clean_report(c.input, CleaningStyle::kMimicR2GenGPT), c.mimic_r2gengpt) << c.input;
}

TEST(ReportCleaning, CharacterRangeQuirk) {
  // ':'..'[' is a range in R2Gen's class: '@', '<', '=' and '>' go, '-' stays.
  EXPECT_EQ(clean_report("a@b<c=d>e-f", CleaningStyle::kIuXray), "abcde-f .");
  EXPECT_EQ(clean_report("a@b<c=d>e-f", CleaningStyle::kMimicR2GenGPT), "a@b<c=d>e-f .");
}

TEST(ReportCleaning, StyleNames) {
  EXPECT_EQ(parse_cleaning_style("iu"), CleaningStyle::kIuXray);
  EXPECT_EQ(parse_cleaning_style("mimic"), CleaningStyle::kMimicCxr);
  EXPECT_EQ(parse_cleaning_style("mimic-r2gengpt"), CleaningStyle::kMimicR2GenGPT);
  EXPECT_FALSE(parse_cleaning_style("MIMIC").has_value());
}

}  // namespace
}  // namespace emrrg::metrics
