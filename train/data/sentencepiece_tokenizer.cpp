#include "train/data/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include <stdexcept>

namespace emrrg::data {

SentencePieceTokenizer::SentencePieceTokenizer(const std::string& path)
    : path_(path), sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  const auto status = sp_->Load(path);
  if (!status.ok())
    throw std::runtime_error("cannot load SentencePiece model '" + path + "': " + status.ToString());
  if (sp_->GetPieceSize() <= 0) throw std::runtime_error("SentencePiece model '" + path + "' has no pieces");
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::vector<int> SentencePieceTokenizer::encode(std::string_view text, bool bos, bool eos) const {
  std::vector<int> pieces;
  const auto status = sp_->Encode(text, &pieces);
  if (!status.ok()) throw std::runtime_error("SentencePiece encode failed (" + path_ + "): " + status.ToString());
  std::vector<int> ids;
  ids.reserve(pieces.size() + 2);
  if (bos) {
    if (sp_->bos_id() < 0) throw std::runtime_error("SentencePiece model '" + path_ + "' has no BOS piece");
    ids.push_back(sp_->bos_id());
  }
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  if (eos) {
    if (sp_->eos_id() < 0) throw std::runtime_error("SentencePiece model '" + path_ + "' has no EOS piece");
    ids.push_back(sp_->eos_id());
  }
  return ids;
}

std::string SentencePieceTokenizer::decode(const std::vector<int>& ids) const {
  const int n = sp_->GetPieceSize();
  for (int id : ids)
    if (id < 0 || id >= n)
      throw std::out_of_range("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                              std::to_string(n) + ") of " + path_);
  std::string text;
  const auto status = sp_->Decode(ids, &text);
  if (!status.ok()) throw std::runtime_error("SentencePiece decode failed (" + path_ + "): " + status.ToString());
  return text;
}

int SentencePieceTokenizer::vocab_size() const { return sp_->GetPieceSize(); }
int SentencePieceTokenizer::bos_id() const { return sp_->bos_id(); }
int SentencePieceTokenizer::eos_id() const { return sp_->eos_id(); }
int SentencePieceTokenizer::unk_id() const { return sp_->unk_id(); }

std::string SentencePieceTokenizer::piece(int id) const {
  if (id < 0 || id >= sp_->GetPieceSize()) throw std::out_of_range("token id " + std::to_string(id) + " out of range");
  return sp_->IdToPiece(id);
}

}  // namespace emrrg::data
