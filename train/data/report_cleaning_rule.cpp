#include "train/data/report_cleaning_rule.h"

#include <stdexcept>

namespace emrrg::data {

ReportCleaning parse_report_cleaning(const std::string& name) {
  if (name == "none") return ReportCleaning::None;
  if (name == "iu_xray") return ReportCleaning::IuXray;
  if (name == "mimic_cxr") return ReportCleaning::MimicCxr;
  if (name == "mimic_cxr_r2gengpt") return ReportCleaning::MimicCxrR2GenGPT;
  throw std::invalid_argument("unknown report cleaning rule '" + name +
                              "' (expected none, iu_xray, mimic_cxr or mimic_cxr_r2gengpt)");
}

const char* report_cleaning_name(ReportCleaning rule) {
  switch (rule) {
    case ReportCleaning::None: return "none";
    case ReportCleaning::IuXray: return "iu_xray";
    case ReportCleaning::MimicCxr: return "mimic_cxr";
    case ReportCleaning::MimicCxrR2GenGPT: return "mimic_cxr_r2gengpt";
  }
  return "?";
}

std::string clean_report(ReportCleaning rule, const std::string& report) {
  switch (rule) {
    case ReportCleaning::None: return report;
    default:
      // TEMPORARY until train/metrics/report_cleaning.h lands.
      throw std::logic_error(std::string("report cleaning '") + report_cleaning_name(rule) + "' is not wired yet");
  }
}

}  // namespace emrrg::data
