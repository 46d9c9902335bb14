// llama2.c's tokenizer.bin: int32 max_token_length, then per token (id order, to the end of the
// file) float32 score, int32 byte length, the bytes. Pieces use ' ' for SentencePiece's U+2581;
// ids 0, 1, 2 are <unk>, BOS, EOS; byte-fallback pieces are spelled "<0xXX>".
// Encoding follows llama2.c's run.c (and SentencePiece's BPE): dummy-prefix space, one symbol
// per UTF-8 code point (or its bytes as byte pieces when the code point is not a piece), then
// repeatedly merge the adjacent pair whose concatenation is the highest-scoring piece (leftmost
// on ties). Unlike run.c, control and byte pieces never take part in merges, as in SentencePiece.
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

#include "train/data/tokenizer.h"

namespace emrrg::data {

class Llama2cTokenizer final : public Tokenizer {
 public:
  // Reads a tokenizer.bin file; throws std::runtime_error naming the file, the token index and
  // the offending value when it is truncated or malformed.
  explicit Llama2cTokenizer(const std::string& path);
  // Parses the bytes of a tokenizer.bin (`name` is used in error messages).
  Llama2cTokenizer(const std::string& bytes, const std::string& name);

  std::vector<int> encode(std::string_view text, bool bos = false, bool eos = false) const override;
  std::string decode(const std::vector<int>& ids) const override;
  int vocab_size() const override { return static_cast<int>(pieces_.size()); }
  int bos_id() const override { return 1; }
  int eos_id() const override { return 2; }
  int unk_id() const override { return 0; }
  std::string piece(int id) const override;
  float score(int id) const;
  int max_token_length() const { return max_token_length_; }

 private:
  void parse(const std::string& bytes);
  int lookup(const std::string& s) const;  // -1 when `s` is not a mergeable piece

  std::string name_;
  int max_token_length_ = 0;
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::vector<bool> is_byte_;
  std::unordered_map<std::string, int> index_;  // normal pieces only
  int byte_id_[256];                            // -1 where the vocabulary lacks the byte piece
};

// True when `bytes` look like a llama2.c tokenizer.bin rather than a SentencePiece protobuf.
bool looks_like_llama2c_tokenizer(const std::string& bytes);

}  // namespace emrrg::data
