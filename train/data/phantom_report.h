// Reports for phantom studies, in the style of IU X-ray findings sections ("The heart is normal
// in size. The lungs are clear."): every finding of the study is stated positively; absent
// findings are negated or left unmentioned; phrasing, sentence order and which negations
// appear vary from report to report, independently of the findings, so the findings can only
// be learnt from the image. Cleaning with R2Gen's IU X-ray rule gives "the heart is normal in
// size . the lungs are clear ." style text.
#pragma once
#include <string>

#include "train/data/phantom_findings.h"
#include "train/data/rng.h"

namespace emrrg::data {

std::string write_phantom_report(const PhantomFindings& findings, Rng& rng);

}  // namespace emrrg::data
