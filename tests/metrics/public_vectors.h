// The public test vectors of shared/reference/NOTES.md section 10 (pycocoevalcap numbers).
#pragma once
#include <string>
#include <vector>

namespace emrrg::metrics::testing {

inline const std::vector<std::string> kReportRefs = {
    "the heart is normal in size . the mediastinum is unremarkable . the lungs are clear .",
    "there is no pneumothorax or pleural effusion . no focal consolidation .",
    "mild cardiomegaly . small left pleural effusion .",
    "the lungs are clear . no acute cardiopulmonary process ."};
inline const std::vector<std::string> kReportHyps = {
    "the heart is normal in size . the lungs are clear .",
    "no pneumothorax or pleural effusion . the lungs are clear .",
    "the heart size is normal .",
    "the lungs are clear . no acute cardiopulmonary process ."};

inline std::vector<std::vector<std::string>> one_ref_each(const std::vector<std::string>& refs) {
  std::vector<std::vector<std::string>> out;
  for (const auto& r : refs) out.push_back({r});
  return out;
}

}  // namespace emrrg::metrics::testing
