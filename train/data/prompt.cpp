#include "train/data/prompt.h"

namespace emrrg::data {

EncodedPrompt encode_prompt(const Tokenizer& tokenizer, const PromptTemplate& prompt) {
  EncodedPrompt out;
  out.bos = tokenizer.bos_id();
  out.before = tokenizer.encode(prompt.before);
  out.after = tokenizer.encode(prompt.after);
  return out;
}

}  // namespace emrrg::data
