// The use every tokenizer fuzz target makes of a tokenizer it could load: encode a few texts
// (ASCII, report text, UTF-8 of every width, invalid UTF-8), decode the ids, ask for every piece.
#pragma once
#include <stdexcept>
#include <string_view>

#include "train/data/tokenizer.h"

namespace emrrg::fuzz {

inline void exercise_tokenizer(const data::Tokenizer& tok) {
  for (std::string_view text : {std::string_view(""), std::string_view("The heart is normal in size.  No effusion."),
                                std::string_view("caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80 <|endoftext|>\n\t 123"),
                                std::string_view("\xff\xfe bad \xc3")}) {
    try {
      (void)tok.decode(tok.encode(text, tok.bos_id() >= 0, tok.eos_id() >= 0));
    } catch (const std::invalid_argument&) {
      // invalid UTF-8, or BOS asked of a tokenizer that has none
    }
  }
  const int n = tok.vocab_size();
  for (int id = 0; id < n; ++id) (void)tok.piece(id);
  try {
    (void)tok.decode({0, n - 1, n});
    __builtin_trap();  // id n is outside the vocabulary
  } catch (const std::out_of_range&) {
  }
}

}  // namespace emrrg::fuzz
