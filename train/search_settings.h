// The [generate] settings as models/generation's search configuration, and the generated ids
// back to report text: shared by every Trainable that writes reports.
#pragma once
#include <string>
#include <vector>

#include "models/generation/generation_config.h"
#include "models/generation/search.h"
#include "train/data/tokenizer.h"
#include "train/trainable.h"

namespace emrrg::train {

generation::GenerationConfig search_settings(const GenerateConfig& config, int eos_id);
// One report per sequence, EOS dropped.
std::vector<std::string> decode_reports(const data::Tokenizer& tokenizer,
                                        const std::vector<generation::GeneratedSequence>& sequences);

}  // namespace emrrg::train
