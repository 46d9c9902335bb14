#include "train/data/report_cleaning_rule.h"

#include <stdexcept>

#include "train/metrics/report_cleaning.h"

namespace emrrg::data {

ReportCleaning parse_report_cleaning(const std::string& name) {
  if (name == "none") return ReportCleaning::None;
  if (name == "iu_xray") return ReportCleaning::IuXray;
  if (name == "mimic_cxr") return ReportCleaning::MimicCxr;
  if (name == "mimic_cxr_r2gengpt") return ReportCleaning::MimicCxrR2GenGPT;
  if (const auto style = metrics::parse_cleaning_style(name)) {
    switch (*style) {
      case metrics::CleaningStyle::kIuXray: return ReportCleaning::IuXray;
      case metrics::CleaningStyle::kMimicCxr: return ReportCleaning::MimicCxr;
      case metrics::CleaningStyle::kMimicR2GenGPT: return ReportCleaning::MimicCxrR2GenGPT;
    }
  }
  throw std::invalid_argument("unknown report cleaning rule '" + name + "' (expected none, iu, mimic or mimic-r2gengpt)");
}

const char* report_cleaning_name(ReportCleaning rule) {
  switch (rule) {
    case ReportCleaning::None: return "none";
    case ReportCleaning::IuXray: return "iu";
    case ReportCleaning::MimicCxr: return "mimic";
    case ReportCleaning::MimicCxrR2GenGPT: return "mimic-r2gengpt";
  }
  return "?";
}

std::string clean_report(ReportCleaning rule, const std::string& report) {
  switch (rule) {
    case ReportCleaning::None: return report;
    case ReportCleaning::IuXray: return metrics::clean_report(report, metrics::CleaningStyle::kIuXray);
    case ReportCleaning::MimicCxr: return metrics::clean_report(report, metrics::CleaningStyle::kMimicCxr);
    case ReportCleaning::MimicCxrR2GenGPT: return metrics::clean_report(report, metrics::CleaningStyle::kMimicR2GenGPT);
  }
  return report;
}

}  // namespace emrrg::data
