// The R2GenGPT/EMRRG prompt (reference NOTES.md §8). The language model's input is
//   [BOS] before [visual tokens] after report
// where `before` and `after` are the tokenised halves of the template around the image
// placeholder (each encoded on its own, without BOS/EOS, as the reference's Hugging Face
// tokenizer does with add_special_tokens=False), and `report` is the cleaned report followed
// by EOS, right-padded to max_length with the pad id. The loss is taken on the report
// tokens only (the dataset's report mask); BOS, prompt, visual tokens and padding are ignored.
#pragma once
#include <string>
#include <vector>

#include "train/data/tokenizer.h"

namespace emrrg::data {

struct PromptTemplate {
  std::string before = "Human: <Img>";
  std::string after =
      "</Img> Generate a comprehensive and detailed diagnosis report for this chest xray image. \nAssistant:";
};

struct EncodedPrompt {
  int bos = 1;
  std::vector<int> before;
  std::vector<int> after;
  // Tokens in front of the report for `n_visual` visual tokens: 1 + before + n_visual + after.
  size_t prefix_length(size_t n_visual) const { return 1 + before.size() + n_visual + after.size(); }
};

EncodedPrompt encode_prompt(const Tokenizer& tokenizer, const PromptTemplate& prompt = {});

}  // namespace emrrg::data
