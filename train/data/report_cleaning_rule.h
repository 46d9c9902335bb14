// Which report-cleaning rule a dataset applies before tokenising (reference NOTES.md §9).
// The rules themselves are emrrg::metrics::clean_report (train/metrics/report_cleaning.h):
// one implementation, shared by training and scoring.
#pragma once
#include <string>

namespace emrrg::data {

enum class ReportCleaning {
  None,              // text used as stored
  IuXray,            // R2Gen clean_report_iu_xray
  MimicCxr,          // R2Gen clean_report_mimic_cxr
  MimicCxrR2GenGPT,  // the R2GenGPT/EMRRG MIMIC-CXR variant
};

// "none", then the metrics names "iu", "mimic", "mimic-r2gengpt" (also accepted:
// "iu_xray", "mimic_cxr", "mimic_cxr_r2gengpt"); throws std::invalid_argument naming the
// accepted values otherwise.
ReportCleaning parse_report_cleaning(const std::string& name);
const char* report_cleaning_name(ReportCleaning rule);  // "none", "iu", "mimic", "mimic-r2gengpt"
std::string clean_report(ReportCleaning rule, const std::string& report);

}  // namespace emrrg::data
