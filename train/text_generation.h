// `emrrg generate`: loads a Llama-family checkpoint (Hugging Face folder or llama2.c .bin) and a
// tokenizer, runs one prompt through models/generation/ (greedy, temperature + top-p sampling, or
// beam search) and writes the continuation.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "models/generation/generation_config.h"
#include "runtime/device.h"

namespace emrrg::train {

struct TextGenerationOptions {
  std::string model_path;
  // A SentencePiece .model, llama2.c tokenizer.bin or byte-level BPE tokenizer.json; empty: the
  // folder's tokenizer.model or tokenizer.json when there is one, else ids only (prompt_ids,
  // print_ids).
  std::string tokenizer_path;
  std::optional<std::string> prompt;            // encoded with BOS when the model has one
  std::optional<std::vector<int64_t>> prompt_ids;  // taken as given
  generation::GenerationConfig generation;      // eos_id -1 here means the model's EOS
  bool print_ids = false;                       // the new ids instead of text
  Device device = Device::cpu();
};

struct TextGenerationResult {
  std::vector<int64_t> prompt_ids;
  std::vector<int64_t> new_ids;
  std::string text;              // the prompt and its continuation as printed (empty with print_ids)
  double tokens_per_second = 0;  // new tokens over the time after the prompt's prefill
};

// Greedy and sampled output goes to `out` as it is made (text, or ids with print_ids); beam
// search writes its best sequence at the end. Timings go to `log`. Throws std::runtime_error with
// the file and what is wrong for a bad model, tokenizer or prompt.
TextGenerationResult run_text_generation(const TextGenerationOptions& options, std::ostream& out, std::ostream& log);

}  // namespace emrrg::train
