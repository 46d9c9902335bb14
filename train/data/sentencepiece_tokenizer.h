// A SentencePiece model (`tokenizer.model`) through Debian's libsentencepiece.
#pragma once
#include <memory>
#include <string>

#include "train/data/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace emrrg::data {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // Throws std::runtime_error naming `path` when the file is missing or not a model.
  explicit SentencePieceTokenizer(const std::string& path);
  ~SentencePieceTokenizer() override;

  std::vector<int> encode(std::string_view text, bool bos = false, bool eos = false) const override;
  std::string decode(const std::vector<int>& ids) const override;
  int vocab_size() const override;
  int bos_id() const override;
  int eos_id() const override;
  int unk_id() const override;
  std::string piece(int id) const override;

 private:
  std::string path_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
};

}  // namespace emrrg::data
