// METEOR 1.5's Normalizer (edu.cmu.meteor.util.Normalizer, English, punctuation kept), the
// tokenisation `-norm` applies before lower-casing: a Moses-style tokenizer with quote and
// dash normalisation, English contraction splitting and non-breaking prefixes. Every step
// reproduces the Java regular expressions' left-to-right, non-overlapping replacement, so
// its quirks carry over (e.g. "a,b,c" becomes "a , b,c").
#pragma once
#include <string>
#include <string_view>

#include "train/metrics/meteor_data.h"

namespace emrrg::metrics {

// Normalizer.normalizeLine(line, LANG_EN, keepPunctuation = true). Valid UTF-8 in and out.
std::string meteor_normalize(std::string_view line, const MeteorData& data);

}  // namespace emrrg::metrics
