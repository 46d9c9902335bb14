#include "train/search_settings.h"

namespace emrrg::train {

generation::GenerationConfig search_settings(const GenerateConfig& c, int eos_id) {
  generation::GenerationConfig g;
  g.num_beams = c.beams;
  g.min_new_tokens = c.min_new_tokens;
  g.max_new_tokens = c.max_new_tokens;
  g.repetition_penalty = static_cast<float>(c.repetition_penalty);
  g.length_penalty = static_cast<float>(c.length_penalty);
  g.eos_id = eos_id;
  return g;
}

std::vector<std::string> decode_reports(const data::Tokenizer& tokenizer,
                                        const std::vector<generation::GeneratedSequence>& sequences) {
  std::vector<std::string> reports;
  for (const generation::GeneratedSequence& s : sequences) {
    std::vector<int> tokens;
    for (int64_t t : s.tokens)
      if (t != tokenizer.eos_id()) tokens.push_back(static_cast<int>(t));
    reports.push_back(tokenizer.decode(tokens));
  }
  return reports;
}

}  // namespace emrrg::train
