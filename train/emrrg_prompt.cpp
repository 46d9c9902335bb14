#include "train/emrrg_prompt.h"

#include <tuple>

#include "train/data/prompt.h"

namespace emrrg::train {

models::PromptTokens emrrg_prompt_tokens(const data::Tokenizer& tokenizer, const std::string& prompt) {
  data::PromptTemplate halves;
  std::tie(halves.before, halves.after) = models::split_prompt(prompt);
  const data::EncodedPrompt encoded = data::encode_prompt(tokenizer, halves);
  return {encoded.bos, {encoded.before.begin(), encoded.before.end()}, {encoded.after.begin(), encoded.after.end()}};
}

}  // namespace emrrg::train
