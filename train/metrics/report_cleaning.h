// Report cleaning exactly as the reference code bases do it, quirks included:
//  - kIuXray:        R2Gen's clean_report_iu_xray (modules/tokenizers.py);
//  - kMimicCxr:      R2Gen's clean_report_mimic_cxr;
//  - kMimicR2GenGPT: the R2GenGPT / EMRRG MIMIC variant (":" -> " :" before splitting, and a
//                    sentence character class without the ':'..'[' range).
// Sentences are split on ". ", cleaned, joined with " . " and closed with " ."; empty
// sentences are kept. In the R2Gen class `[.,?;*!%^&_+():-\[\]{}]` the `:-\[` part is a
// range, so ':' ';' '<' '=' '>' '?' '@' 'A'-'Z' '[' are deleted and '-' is kept.
// Standalone header (no project dependencies) so the dataset loader can use it.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace emrrg::metrics {

enum class CleaningStyle { kIuXray, kMimicCxr, kMimicR2GenGPT };

std::string clean_report(std::string_view report, CleaningStyle style);

// "iu", "mimic" or "mimic-r2gengpt"; nullopt for anything else.
std::optional<CleaningStyle> parse_cleaning_style(std::string_view name);

}  // namespace emrrg::metrics
