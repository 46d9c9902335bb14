// BERT's uncased WordPiece tokenizer from a vocab.txt, as transformers' BertTokenizer (the Python
// one CheXbert used, do_lower_case=True) tokenizes:
//   1. the vocabulary's special tokens ([PAD] [UNK] [CLS] [SEP] [MASK]) are cut out of the raw
//      text first, leftmost-longest, and kept whole;
//   2. basic tokenisation of the rest: U+0000, U+FFFD and control characters (category C other
//      than tab, newline, carriage return) dropped, white space (those three, space, category Zs)
//      made a space, a space put around each CJK ideograph, split on white space (as Python's
//      str.split), each word lower-cased (full Unicode case mapping) and its accents stripped
//      (NFD, non-spacing marks removed), then split so every punctuation character (ASCII
//      symbols and category P) stands alone;
//   3. WordPiece on each word: greedy longest match from the left, continuations looked up with a
//      "##" prefix; a word with a part no entry matches, or longer than 100 code points, is [UNK].
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace emrrg::data {

class WordPieceTokenizer {
 public:
  // A vocab.txt: one token per line (\n, \r\n or \r), the id is the 0-based line number; a
  // repeated token takes the id of its last line, as transformers' load_vocab does. Throws
  // std::runtime_error naming the file for a missing or empty file, invalid UTF-8 (with the line)
  // or a vocabulary without [UNK], [CLS], [SEP] or [PAD].
  static WordPieceTokenizer from_file(const std::string& path);
  // The text of a vocab.txt; `name` is used in error messages.
  WordPieceTokenizer(std::string_view vocab_text, const std::string& name);

  // The tokens of `text` (UTF-8), without [CLS]/[SEP]. Throws std::invalid_argument naming the
  // byte offset when the text is not valid UTF-8.
  std::vector<std::string> tokenize(std::string_view text) const;
  // [CLS] ids [SEP], as CheXbert encodes a report: longer than max_length, the first
  // max_length - 1 ids are kept and [SEP] appended (max_length >= 2).
  std::vector<int> encode(std::string_view text, std::size_t max_length = 512) const;

  int vocab_size() const { return static_cast<int>(tokens_.size()); }
  // The id of a vocabulary entry, -1 when absent.
  int token_id(std::string_view token) const;
  // The vocabulary entry of an id; throws std::out_of_range outside [0, vocab_size()).
  const std::string& token(int id) const;
  int pad_id() const { return pad_id_; }
  int unk_id() const { return unk_id_; }
  int cls_id() const { return cls_id_; }
  int sep_id() const { return sep_id_; }

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  void append_ids(std::string_view text, std::vector<int>& ids) const;
  void append_basic_tokens(std::u32string_view text, std::vector<int>& ids) const;
  void append_wordpieces(std::u32string_view word, std::vector<int>& ids) const;

  std::string name_;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int, StringHash, std::equal_to<>> ids_;
  std::vector<std::pair<std::string, int>> specials_;  // in the vocabulary, longest first
  int pad_id_ = -1, unk_id_ = -1, cls_id_ = -1, sep_id_ = -1;
};

}  // namespace emrrg::data
