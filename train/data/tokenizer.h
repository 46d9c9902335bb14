// Tokenizer: text <-> token ids for the language model. Three back ends share this interface:
// SentencePiece models (`tokenizer.model`, through libsentencepiece), llama2.c's binary
// `tokenizer.bin` export (our own BPE, byte fallback included) and Hugging Face byte-level BPE
// `tokenizer.json` files (Qwen; bpe_tokenizer.h). load_tokenizer() picks one.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace emrrg::data {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Encodes UTF-8 text. The SentencePiece back ends add the dummy-prefix space as SentencePiece
  // does (not for empty text; byte-level BPE adds none); `bos` puts bos_id() first, `eos` puts
  // eos_id() last.
  virtual std::vector<int> encode(std::string_view text, bool bos = false, bool eos = false) const = 0;
  // Decodes ids to text: control ids (BOS/EOS/PAD) print nothing, byte pieces become their
  // bytes, the leading dummy-prefix space is removed. Throws std::out_of_range for an id
  // outside [0, vocab_size()).
  virtual std::string decode(const std::vector<int>& ids) const = 0;

  virtual int vocab_size() const = 0;
  virtual int bos_id() const = 0;
  virtual int eos_id() const = 0;
  virtual int unk_id() const = 0;
  // The piece of one id as stored in the vocabulary (SentencePiece writes U+2581 for a space).
  virtual std::string piece(int id) const = 0;
};

// Loads `path`: a SentencePiece model (protobuf; usually *.model), a llama2.c tokenizer.bin
// (usually *.bin) or a byte-level BPE tokenizer.json (a JSON object). The format is decided by the content, not the name. Throws
// std::runtime_error naming the file when it is missing or malformed.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

// The bytes of a tokenizer file; throws std::runtime_error naming it when it cannot be opened.
std::string read_tokenizer_file(const std::string& path);

}  // namespace emrrg::data
