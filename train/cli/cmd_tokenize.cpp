// emrrg tokenize --model M [--bos] [--eos] TEXT...   prints the token ids, space-separated
// emrrg detokenize --model M ID...                  prints the text
// M is a SentencePiece tokenizer.model, a llama2.c tokenizer.bin or a byte-level BPE tokenizer.json
// (told apart by content).
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "train/cli/command_registry.h"
#include "train/data/tokenizer.h"

namespace {

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) out += (i ? " " : "") + words[i];
  return out;
}

const bool tokenize_registered = emrrg::cli::register_command(
    {"tokenize", "Print the token ids of TEXT (SentencePiece .model, llama2.c tokenizer.bin or tokenizer.json)",
     [](CLI::App& app) -> std::function<int()> {
       auto model = std::make_shared<std::string>();
       auto bos = std::make_shared<bool>(false);
       auto eos = std::make_shared<bool>(false);
       auto text = std::make_shared<std::vector<std::string>>();
       app.add_option("--model,-m", *model, "tokenizer.model, tokenizer.bin or tokenizer.json")->required();
       app.add_flag("--bos", *bos, "Put the BOS id first");
       app.add_flag("--eos", *eos, "Put the EOS id last");
       app.add_option("text", *text, "Text to encode (several words are joined with single spaces; "
                                     "quote it to keep other white space)");
       return [model, bos, eos, text] {
         const auto tok = emrrg::data::load_tokenizer(*model);
         const auto ids = tok->encode(join(*text), *bos, *eos);
         for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
         std::cout << "\n";
         return 0;
       };
     }});

const bool detokenize_registered = emrrg::cli::register_command(
    {"detokenize", "Print the text of token ids (SentencePiece .model, llama2.c tokenizer.bin or tokenizer.json)",
     [](CLI::App& app) -> std::function<int()> {
       auto model = std::make_shared<std::string>();
       auto ids = std::make_shared<std::vector<int>>();
       app.add_option("--model,-m", *model, "tokenizer.model, tokenizer.bin or tokenizer.json")->required();
       app.add_option("ids", *ids, "Token ids")->required();
       return [model, ids] {
         const auto tok = emrrg::data::load_tokenizer(*model);
         std::cout << tok->decode(*ids) << "\n";
         return 0;
       };
     }});

}  // namespace
