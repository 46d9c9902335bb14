#include "train/data/llama2c_tokenizer.h"

#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace emrrg::data {

namespace {

int32_t read_i32(const std::string& b, size_t off) {
  int32_t v;
  std::memcpy(&v, b.data() + off, 4);
  return v;
}

// "<0xAB>" -> 0xAB, else -1.
int parse_byte_piece(const std::string& p) {
  if (p.size() != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>') return -1;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const int hi = hex(p[3]), lo = hex(p[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// Length of the UTF-8 sequence starting at s[i] (1 for a stray or invalid byte).
size_t utf8_length(std::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = 1;
  if ((c & 0xE0) == 0xC0) n = 2;
  else if ((c & 0xF0) == 0xE0) n = 3;
  else if ((c & 0xF8) == 0xF0) n = 4;
  if (i + n > s.size()) return 1;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 1;
  return n;
}

}  // namespace

bool looks_like_llama2c_tokenizer(const std::string& bytes) {
  if (bytes.size() < 12) return false;
  const int32_t max_len = read_i32(bytes, 0);
  if (max_len <= 0 || max_len > 4096) return false;
  const int32_t first_len = read_i32(bytes, 8);
  return first_len >= 0 && first_len <= max_len && 12 + static_cast<size_t>(first_len) <= bytes.size();
}

Llama2cTokenizer::Llama2cTokenizer(const std::string& path) : name_(path) { parse(read_tokenizer_file(path)); }

Llama2cTokenizer::Llama2cTokenizer(const std::string& bytes, const std::string& name) : name_(name) {
  parse(bytes);
}

void Llama2cTokenizer::parse(const std::string& b) {
  const std::string where = "tokenizer.bin '" + name_ + "'";
  if (b.size() < 4) throw std::runtime_error(where + ": file is " + std::to_string(b.size()) + " bytes, too short for a header");
  max_token_length_ = read_i32(b, 0);
  if (max_token_length_ <= 0 || max_token_length_ > (1 << 20))
    throw std::runtime_error(where + ": max_token_length " + std::to_string(max_token_length_) + " is not plausible");
  size_t off = 4;
  while (off < b.size()) {
    const size_t id = pieces_.size();
    if (b.size() - off < 8)
      throw std::runtime_error(where + ": truncated record for token " + std::to_string(id) + " at byte " + std::to_string(off));
    float score;
    std::memcpy(&score, b.data() + off, 4);
    const int32_t len = read_i32(b, off + 4);
    off += 8;
    if (len < 0 || len > max_token_length_)
      throw std::runtime_error(where + ": token " + std::to_string(id) + " has length " + std::to_string(len) +
                               " (max_token_length " + std::to_string(max_token_length_) + ")");
    if (b.size() - off < static_cast<size_t>(len))
      throw std::runtime_error(where + ": token " + std::to_string(id) + " needs " + std::to_string(len) +
                               " bytes but only " + std::to_string(b.size() - off) + " remain");
    if (pieces_.size() >= static_cast<size_t>(std::numeric_limits<int>::max()))
      throw std::runtime_error(where + ": too many tokens");
    pieces_.emplace_back(b.data() + off, static_cast<size_t>(len));
    scores_.push_back(score);
    off += static_cast<size_t>(len);
  }
  if (pieces_.size() < 3) throw std::runtime_error(where + ": only " + std::to_string(pieces_.size()) + " tokens (need <unk>, BOS, EOS)");
  std::fill(std::begin(byte_id_), std::end(byte_id_), -1);
  is_byte_.assign(pieces_.size(), false);
  for (size_t i = 3; i < pieces_.size(); ++i) {
    const int byte = parse_byte_piece(pieces_[i]);
    if (byte >= 0) {
      is_byte_[i] = true;
      if (byte_id_[byte] < 0) byte_id_[byte] = static_cast<int>(i);
      continue;
    }
    index_.emplace(pieces_[i], static_cast<int>(i));  // first occurrence wins
  }
}

int Llama2cTokenizer::lookup(const std::string& s) const {
  auto it = index_.find(s);
  return it == index_.end() ? -1 : it->second;
}

std::vector<int> Llama2cTokenizer::encode(std::string_view text, bool bos, bool eos) const {
  std::vector<int> symbols;
  if (!text.empty()) {
    // The dummy prefix: SentencePiece prepends U+2581, which the export spells ' '.
    std::string input = " ";
    input.append(text);
    symbols.reserve(input.size());
    for (size_t i = 0; i < input.size();) {
      const size_t n = utf8_length(input, i);
      const int id = lookup(input.substr(i, n));
      if (id >= 0) {
        symbols.push_back(id);
      } else {
        for (size_t k = 0; k < n; ++k) {
          const int b = byte_id_[static_cast<unsigned char>(input[i + k])];
          symbols.push_back(b >= 0 ? b : unk_id());
        }
      }
      i += n;
    }
    // Merge: the score and id of each adjacent pair's concatenation (-1 id: not a piece).
    const size_t npairs = symbols.empty() ? 0 : symbols.size() - 1;
    std::vector<int> pair_id(npairs);
    auto pair_lookup = [&](size_t i) {
      const int a = symbols[i], c = symbols[i + 1];
      if (is_byte_[a] || is_byte_[c] || a < 3 || c < 3) return -1;
      return lookup(pieces_[a] + pieces_[c]);
    };
    for (size_t i = 0; i < npairs; ++i) pair_id[i] = pair_lookup(i);
    while (!pair_id.empty()) {
      int best = -1;
      float best_score = -std::numeric_limits<float>::infinity();
      for (size_t i = 0; i < pair_id.size(); ++i) {
        const int id = pair_id[i];
        if (id >= 0 && (best < 0 || scores_[id] > best_score)) {
          best = static_cast<int>(i);
          best_score = scores_[id];
        }
      }
      if (best < 0) break;
      symbols[best] = pair_id[best];
      symbols.erase(symbols.begin() + best + 1);
      pair_id.erase(pair_id.begin() + best);
      if (best > 0) pair_id[best - 1] = pair_lookup(best - 1);
      if (static_cast<size_t>(best) < pair_id.size()) pair_id[best] = pair_lookup(best);
    }
  }
  std::vector<int> ids;
  ids.reserve(symbols.size() + 2);
  if (bos) ids.push_back(bos_id());
  ids.insert(ids.end(), symbols.begin(), symbols.end());
  if (eos) ids.push_back(eos_id());
  return ids;
}

std::string Llama2cTokenizer::decode(const std::vector<int>& ids) const {
  std::string out;
  bool first = true;
  for (int id : ids) {
    if (id < 0 || id >= vocab_size())
      throw std::out_of_range("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                              std::to_string(vocab_size()) + ") of " + name_);
    if (id == bos_id() || id == eos_id()) continue;
    std::string p;
    if (id == unk_id()) {
      p = " \xE2\x81\x87 ";  // SentencePiece's " ⁇ " for <unk>
    } else if (is_byte_[id]) {
      p.assign(1, static_cast<char>(parse_byte_piece(pieces_[id])));
    } else {
      p = pieces_[id];
    }
    if (first && !p.empty() && p[0] == ' ') p.erase(0, 1);
    first = false;
    out += p;
  }
  return out;
}

std::string Llama2cTokenizer::piece(int id) const {
  if (id < 0 || id >= vocab_size()) throw std::out_of_range("token id " + std::to_string(id) + " out of range");
  return pieces_[id];
}

float Llama2cTokenizer::score(int id) const {
  if (id < 0 || id >= vocab_size()) throw std::out_of_range("token id " + std::to_string(id) + " out of range");
  return scores_[id];
}

}  // namespace emrrg::data
