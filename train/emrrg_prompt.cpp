#include "train/emrrg_prompt.h"

#include <tuple>

#include "train/data/prompt.h"

namespace emrrg::train {

models::PromptTokens emrrg_prompt_tokens(const data::Tokenizer& tokenizer, const std::string& prompt) {
  data::PromptTemplate halves;
  std::tie(halves.before, halves.after) = models::split_prompt(prompt);
  const data::EncodedPrompt encoded = data::encode_prompt(tokenizer, halves);
  // A tokenizer without BOS (Qwen's) starts the sequence with its EOS, <|endoftext|>, as Qwen's own
  // pre-training separates documents.
  const int bos = encoded.bos >= 0 ? encoded.bos : tokenizer.eos_id();
  return {bos, {encoded.before.begin(), encoded.before.end()}, {encoded.after.begin(), encoded.after.end()}};
}

}  // namespace emrrg::train
