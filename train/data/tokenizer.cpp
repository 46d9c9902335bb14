#include "train/data/tokenizer.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "train/data/bpe_tokenizer.h"
#include "train/data/llama2c_tokenizer.h"
#include "train/data/sentencepiece_tokenizer.h"

namespace emrrg::data {

std::string read_tokenizer_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open tokenizer file '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  const std::string bytes = read_tokenizer_file(path);
  if (bytes.empty()) throw std::runtime_error("tokenizer file '" + path + "' is empty");
  // A SentencePiece ModelProto starts with field 1 (repeated pieces), tag byte 0x0A; a
  // tokenizer.bin starts with a small little-endian int32.
  if (looks_like_tokenizer_json(bytes)) return std::make_unique<BpeTokenizer>(path);
  if (looks_like_llama2c_tokenizer(bytes)) return std::make_unique<Llama2cTokenizer>(bytes, path);
  return std::make_unique<SentencePieceTokenizer>(path);
}

}  // namespace emrrg::data
