// Byte-level BPE from a Hugging Face `tokenizer.json` (Qwen1.5/Qwen2, GPT-2 style), encoding as
// the `tokenizers` library does:
//   1. added tokens are cut out first (leftmost-longest; those with normalized=false on the raw
//      text, the others on the normalised text; lstrip/rstrip swallow neighbouring white space);
//   2. the normaliser (NFC, or none);
//   3. the pre-tokenizer: regex Splits with behaviour "isolated" (PCRE2, Unicode), then ByteLevel
//      without prefix space (use_regex adds GPT-2's split);
//   4. BPE on each piece's byte-level spelling: repeatedly merge the adjacent pair of lowest merge
//      rank, the leftmost one on ties.
// Decoding maps byte-level characters back to bytes (ByteLevel decoder, invalid UTF-8 becomes
// U+FFFD) and prints added tokens' content; special tokens print nothing.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "train/data/tokenizer.h"

namespace emrrg::data {

class UnicodeRegex;

class BpeTokenizer final : public Tokenizer {
 public:
  // Reads tokenizer.json; BOS/EOS come from a tokenizer_config.json beside it when there is one
  // (bos_token / eos_token), else there is no BOS and EOS is "<|endoftext|>" when present.
  // Throws std::runtime_error naming the file and the field for a malformed or unsupported file.
  explicit BpeTokenizer(const std::string& path);
  // Parses the text of a tokenizer.json; `name` is used in error messages.
  BpeTokenizer(const std::string& json_text, const std::string& name);
  ~BpeTokenizer() override;

  // Qwen adds no BOS: asking for one when bos_id() is -1 throws std::invalid_argument. Throws
  // std::invalid_argument for text that is not valid UTF-8.
  std::vector<int> encode(std::string_view text, bool bos = false, bool eos = false) const override;
  std::string decode(const std::vector<int>& ids) const override;
  int vocab_size() const override { return static_cast<int>(pieces_.size()); }
  int bos_id() const override { return bos_id_; }
  int eos_id() const override { return eos_id_; }
  int unk_id() const override { return unk_id_; }
  std::string piece(int id) const override;
  // The id of a vocabulary piece or added token, -1 when absent.
  int token_id(const std::string& piece) const;

 private:
  struct AddedToken {
    std::string content;  // as matched: NFC-normalised when `normalized`
    int id;
    bool lstrip, rstrip, normalized, special;
  };
  struct Merge {
    int rank, id;
  };

  void parse(const std::string& json_text);
  void read_special_token_config(const std::string& tokenizer_json_path);
  // Cuts added tokens (those with normalized == `normalized`) out of text, appending ids;
  // the text between them goes to `rest`.
  void split_added(std::string_view text, bool normalized, std::vector<int>& ids,
                   const std::function<void(std::string_view)>& rest) const;
  void encode_ordinary(std::string_view text, std::vector<int>& ids) const;
  void bpe(const std::string& word, std::vector<int>& ids) const;

  std::string name_;
  std::vector<std::string> pieces_;  // by id; "" for an id neither in the vocabulary nor added
  std::vector<char> is_special_;     // by id
  std::unordered_map<std::string, int> vocab_;
  std::unordered_map<uint64_t, Merge> merges_;  // (left id << 32 | right id) -> rank, merged id
  std::vector<AddedToken> added_;
  bool nfc_ = false;
  bool ignore_merges_ = false;
  bool fuse_unk_ = false;
  std::vector<std::unique_ptr<UnicodeRegex>> splits_;  // applied in order, each "isolated"
  int bos_id_ = -1, eos_id_ = -1, unk_id_ = -1;
};

// True when `bytes` look like a JSON object (a tokenizer.json) rather than a binary format.
bool looks_like_tokenizer_json(const std::string& bytes);

}  // namespace emrrg::data
