// The [model] prompt of an EMRRG config as the token ids the network takes: split at its image
// placeholder and each half tokenised on its own as R2GenGPT does (train/data/prompt.h).
#pragma once
#include <string>

#include "models/emrrg/emrrg.h"
#include "train/data/tokenizer.h"

namespace emrrg::train {

models::PromptTokens emrrg_prompt_tokens(const data::Tokenizer& tokenizer, const std::string& prompt);

}  // namespace emrrg::train
