#include "train/data/bpe_tokenizer.h"

#include <algorithm>
#include <climits>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <queue>
#include <stdexcept>

#include "train/data/byte_level.h"
#include "train/data/unicode_nfc.h"
#include "train/data/unicode_regex.h"

namespace emrrg::data {

namespace {

using nlohmann::json;

// GPT-2's pre-tokenizer regex, what ByteLevel(use_regex=true) splits with.
constexpr const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Rust's char::is_whitespace: the Unicode White_Space property.
bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// The key of merges_: two token ids.
uint64_t pair_key(int left, int right) { return (static_cast<uint64_t>(left) << 32) | static_cast<uint32_t>(right); }

void check_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t len = utf8_sequence_length(text, i);
    if (!len) throw std::invalid_argument("BPE tokenizer: the text is not valid UTF-8 at byte " + std::to_string(i));
    i += len;
  }
}

// Reads a token given as a string or as {"content": ...} (tokenizer_config.json); "" for null.
std::string token_content(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string())
    return value["content"].get<std::string>();
  return "";
}

}  // namespace

bool looks_like_tokenizer_json(const std::string& bytes) {
  size_t i = bytes.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  const auto skip_space = [&] {
    while (i < bytes.size() && (bytes[i] == ' ' || bytes[i] == '\n' || bytes[i] == '\r' || bytes[i] == '\t')) ++i;
  };
  skip_space();
  if (i >= bytes.size() || bytes[i] != '{') return false;
  ++i;
  skip_space();
  return i < bytes.size() && (bytes[i] == '"' || bytes[i] == '}');
}

BpeTokenizer::BpeTokenizer(const std::string& path) : name_(path) {
  parse(read_tokenizer_file(path));
  read_special_token_config(path);
}

BpeTokenizer::BpeTokenizer(const std::string& json_text, const std::string& name) : name_(name) {
  parse(json_text);
  eos_id_ = token_id("<|endoftext|>");
}

BpeTokenizer::~BpeTokenizer() = default;

void BpeTokenizer::parse(const std::string& json_text) {
  const auto fail = [&](const std::string& field, const std::string& what) {
    throw std::runtime_error(name_ + ": " + field + " " + what);
  };
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number too large
    throw std::runtime_error(name_ + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  if (!root.is_object()) fail("the top level", "is not a JSON object");
  const auto field = [&](const json& parent, const std::string& key, const std::string& path) -> const json& {
    if (!parent.contains(key)) fail("field '" + path + "'", "is missing");
    return parent[key];
  };
  const auto flag = [&](const json& parent, const std::string& key, const std::string& path) {
    if (!parent.contains(key) || parent[key].is_null()) return false;
    if (!parent[key].is_boolean()) fail("field '" + path + "'", "is not a boolean");
    return parent[key].get<bool>();
  };
  const auto type_of = [&](const json& node, const std::string& path) {
    if (!node.is_object() || !node.contains("type") || !node["type"].is_string())
      fail("field '" + path + ".type'", "is missing or not a string");
    return node["type"].get<std::string>();
  };

  // model: vocabulary and merges.
  const json& model = field(root, "model", "model");
  if (!model.is_object()) fail("field 'model'", "is not an object");
  if (model.contains("type") && type_of(model, "model") != "BPE")
    fail("field 'model.type'", "is '" + model["type"].get<std::string>() + "'; only BPE is supported");
  const json& vocab = field(model, "vocab", "model.vocab");
  if (!vocab.is_object()) fail("field 'model.vocab'", "is not an object of piece -> id");
  int max_id = -1;
  for (const auto& [piece, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT_MAX / 2)
      fail("field 'model.vocab'", "maps '" + piece + "' to " + id.dump() + ", not a token id");
    vocab_[piece] = id.get<int>();
    max_id = std::max(max_id, id.get<int>());
  }
  if (vocab_.empty()) fail("field 'model.vocab'", "is empty");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (model.contains(key) && !model[key].is_null() && model[key] != "")
      fail("field 'model." + std::string(key) + "'", "is set; it is not supported");
  if (flag(model, "byte_fallback", "model.byte_fallback"))
    fail("field 'model.byte_fallback'", "is true; it is not supported (byte-level BPE needs none)");
  if (model.contains("dropout") && !model["dropout"].is_null() && model["dropout"] != 0)
    fail("field 'model.dropout'", "is set; BPE dropout is not supported");
  ignore_merges_ = flag(model, "ignore_merges", "model.ignore_merges");
  fuse_unk_ = flag(model, "fuse_unk", "model.fuse_unk");
  if (model.contains("unk_token") && !model["unk_token"].is_null()) {
    if (!model["unk_token"].is_string()) fail("field 'model.unk_token'", "is not a string");
    const auto it = vocab_.find(model["unk_token"].get<std::string>());
    if (it == vocab_.end()) fail("field 'model.unk_token'", "names a piece that is not in model.vocab");
    unk_id_ = it->second;
  }

  const json& merges = field(model, "merges", "model.merges");
  if (!merges.is_array()) fail("field 'model.merges'", "is not an array");
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string where = "field 'model.merges[" + std::to_string(i) + "]'";
    std::string left, right;
    const json& m = merges[i];
    if (m.is_string()) {  // "a b"
      const std::string s = m.get<std::string>();
      const size_t space = s.find(' ');
      if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos)
        fail(where, "is '" + s + "', not two pieces separated by one space");
      left = s.substr(0, space);
      right = s.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {  // ["a", "b"]
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      fail(where, "is neither \"a b\" nor [\"a\", \"b\"]");
    }
    const auto l = vocab_.find(left), r = vocab_.find(right), merged = vocab_.find(left + right);
    if (l == vocab_.end() || r == vocab_.end() || merged == vocab_.end())
      fail(where, "('" + left + "', '" + right + "'): '" +
                      (l == vocab_.end()   ? left
                       : r == vocab_.end() ? right
                                           : left + right) +
                      "' is not in model.vocab");
    // A repeated pair takes its last rank, as the tokenizers library's map does.
    merges_[pair_key(l->second, r->second)] = {static_cast<int>(i), merged->second};
  }

  // added_tokens: ids beside (or inside) the vocabulary.
  std::vector<AddedToken> added;
  if (root.contains("added_tokens") && !root["added_tokens"].is_null()) {
    const json& list = root["added_tokens"];
    if (!list.is_array()) fail("field 'added_tokens'", "is not an array");
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string path = "added_tokens[" + std::to_string(i) + "]";
      const json& t = list[i];
      if (!t.is_object()) fail("field '" + path + "'", "is not an object");
      const json& id = field(t, "id", path + ".id");
      const json& content = field(t, "content", path + ".content");
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT_MAX / 2)
        fail("field '" + path + ".id'", "is " + id.dump() + ", not a token id");
      if (!content.is_string() || content.get<std::string>().empty())
        fail("field '" + path + ".content'", "is not a non-empty string");
      if (flag(t, "single_word", path + ".single_word"))
        fail("field '" + path + ".single_word'", "is true; it is not supported");
      added.push_back({content.get<std::string>(), id.get<int>(), flag(t, "lstrip", path + ".lstrip"),
                       flag(t, "rstrip", path + ".rstrip"), flag(t, "normalized", path + ".normalized"),
                       flag(t, "special", path + ".special")});
      max_id = std::max(max_id, id.get<int>());
    }
  }

  // normalizer: NFC or none.
  const auto read_normalizer = [&](const json& n, const std::string& path, auto&& self) -> void {
    if (n.is_null()) return;
    const std::string type = type_of(n, path);
    if (type == "NFC") {
      nfc_ = true;
    } else if (type == "Sequence") {
      const json& list = field(n, "normalizers", path + ".normalizers");
      if (!list.is_array()) fail("field '" + path + ".normalizers'", "is not an array");
      for (size_t i = 0; i < list.size(); ++i) self(list[i], path + ".normalizers[" + std::to_string(i) + "]", self);
    } else {
      fail("field '" + path + ".type'", "is '" + type + "'; only NFC is supported");
    }
  };
  if (root.contains("normalizer")) read_normalizer(root["normalizer"], "normalizer", read_normalizer);

  // pre_tokenizer: Split(isolated)* then ByteLevel, alone or in a Sequence.
  const json& pre = field(root, "pre_tokenizer", "pre_tokenizer");
  std::vector<std::pair<const json*, std::string>> steps;
  if (type_of(pre, "pre_tokenizer") == "Sequence") {
    const json& list = field(pre, "pretokenizers", "pre_tokenizer.pretokenizers");
    if (!list.is_array()) fail("field 'pre_tokenizer.pretokenizers'", "is not an array");
    for (size_t i = 0; i < list.size(); ++i)
      steps.emplace_back(&list[i], "pre_tokenizer.pretokenizers[" + std::to_string(i) + "]");
  } else {
    steps.emplace_back(&pre, "pre_tokenizer");
  }
  for (size_t s = 0; s < steps.size(); ++s) {
    const json& step = *steps[s].first;
    const std::string& path = steps[s].second;
    const std::string type = type_of(step, path);
    const bool last = s + 1 == steps.size();
    if (type == "Split" && !last) {
      const json& pattern = field(step, "pattern", path + ".pattern");
      const bool is_regex = pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string();
      const bool is_string = pattern.is_object() && pattern.contains("String") && pattern["String"].is_string();
      if (!is_regex && !is_string) fail("field '" + path + ".pattern'", "is not {\"Regex\": ...} or {\"String\": ...}");
      const json& behavior = field(step, "behavior", path + ".behavior");
      if (behavior != "Isolated")
        fail("field '" + path + ".behavior'", "is " + behavior.dump() + "; only Isolated is supported");
      if (flag(step, "invert", path + ".invert")) fail("field '" + path + ".invert'", "is true; it is not supported");
      splits_.push_back(std::make_unique<UnicodeRegex>(pattern[is_regex ? "Regex" : "String"].get<std::string>(),
                                                       is_string, name_ + ": field '" + path + ".pattern'"));
    } else if (type == "ByteLevel" && last) {
      if (flag(step, "add_prefix_space", path + ".add_prefix_space"))
        fail("field '" + path + ".add_prefix_space'", "is true; only false is supported (Qwen, GPT-2 style)");
      if (!step.contains("use_regex") || flag(step, "use_regex", path + ".use_regex"))
        splits_.push_back(std::make_unique<UnicodeRegex>(kGpt2Pattern, false, name_ + ": GPT-2's ByteLevel regex"));
    } else {
      fail("field '" + path + ".type'", "is '" + type + "'; supported: Split (isolated) steps then one ByteLevel");
    }
  }

  // decoder: ByteLevel.
  const json& decoder = field(root, "decoder", "decoder");
  if (decoder.is_null() || type_of(decoder, "decoder") != "ByteLevel")
    fail("field 'decoder'", "is not a ByteLevel decoder; only byte-level BPE is supported");
  if (root.contains("truncation") && !root["truncation"].is_null())
    fail("field 'truncation'", "is set; truncation is not supported");

  pieces_.assign(static_cast<size_t>(max_id) + 1, "");
  is_special_.assign(pieces_.size(), 0);
  for (const auto& [piece, id] : vocab_) pieces_[id] = piece;
  for (AddedToken& t : added) {
    pieces_[t.id] = t.content;
    is_special_[t.id] = t.special;
    // Normalised tokens are matched in normalised text, so their content is normalised too.
    if (t.normalized && nfc_) {
      check_utf8(t.content);
      t.content = nfc_normalize(t.content);
    }
  }
  added_ = std::move(added);
}

void BpeTokenizer::read_special_token_config(const std::string& tokenizer_json_path) {
  const std::filesystem::path config_path =
      std::filesystem::path(tokenizer_json_path).parent_path() / "tokenizer_config.json";
  if (!std::filesystem::exists(config_path)) {
    eos_id_ = token_id("<|endoftext|>");
    return;
  }
  const std::string name = config_path.string();
  json config;
  try {
    config = json::parse(read_tokenizer_file(name));
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number too large
    throw std::runtime_error(name + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  const auto id_of = [&](const char* key) {
    if (!config.is_object() || !config.contains(key) || config[key].is_null()) return -1;
    const std::string content = token_content(config[key]);
    const int id = token_id(content);
    if (content.empty() || id < 0)
      throw std::runtime_error(name + ": field '" + key + "' (" + config[key].dump() + ") is not a token of " + name_);
    return id;
  };
  bos_id_ = id_of("bos_token");
  eos_id_ = id_of("eos_token");
}

int BpeTokenizer::token_id(const std::string& piece) const {
  for (const AddedToken& t : added_)
    if (pieces_[t.id] == piece) return t.id;
  const auto it = vocab_.find(piece);
  return it == vocab_.end() ? -1 : it->second;
}

std::string BpeTokenizer::piece(int id) const {
  if (id < 0 || id >= vocab_size())
    throw std::out_of_range(name_ + ": token id " + std::to_string(id) + " outside [0, " +
                            std::to_string(vocab_size()) + ")");
  return pieces_[id];
}

void BpeTokenizer::split_added(std::string_view text, bool normalized, std::vector<int>& ids,
                               const std::function<void(std::string_view)>& rest) const {
  size_t done = 0;  // text[..done) is handled
  size_t pos = 0;
  while (pos < text.size()) {
    // Leftmost-longest: the first position where a token matches, the longest one there.
    const AddedToken* best = nullptr;
    for (const AddedToken& t : added_)
      if (t.normalized == normalized && text.compare(pos, t.content.size(), t.content) == 0 &&
          (!best || t.content.size() > best->content.size()))
        best = &t;
    if (!best) {
      ++pos;
      continue;
    }
    size_t start = pos, stop = pos + best->content.size();
    if (best->lstrip) {
      // The white space run that ends at `start`, not reaching back before `done`.
      size_t run = done;
      for (size_t i = done; i < start;) {
        const size_t len = std::max<size_t>(1, utf8_sequence_length(text, i));
        if (!is_white_space(utf8_code_point(text, i, len))) run = i + len;
        i += len;
      }
      start = run;
    }
    if (best->rstrip)
      while (stop < text.size()) {
        const size_t len = std::max<size_t>(1, utf8_sequence_length(text, stop));
        if (!is_white_space(utf8_code_point(text, stop, len))) break;
        stop += len;
      }
    if (start > done) rest(text.substr(done, start - done));
    ids.push_back(best->id);
    done = pos = stop;
  }
  if (done < text.size()) rest(text.substr(done));
}

void BpeTokenizer::encode_ordinary(std::string_view text, std::vector<int>& ids) const {
  std::vector<std::string_view> pieces{text}, next;
  for (const auto& regex : splits_) {
    next.clear();
    for (std::string_view p : pieces) regex->split_isolated(p, next);
    pieces.swap(next);
  }
  for (std::string_view p : pieces) bpe(byte_level_encode(p), ids);
}

void BpeTokenizer::bpe(const std::string& word, std::vector<int>& ids) const {
  if (ignore_merges_) {
    const auto it = vocab_.find(word);
    if (it != vocab_.end()) {
      ids.push_back(it->second);
      return;
    }
  }
  // Symbols as a linked list over the characters; a merge overwrites the left symbol and
  // unlinks the right one. Candidate merges wait in a heap ordered by (rank, position), and are
  // checked against the current neighbours when they come out (the tokenizers library's way).
  struct Symbol {
    int id, prev, next;
    bool alive;
  };
  std::vector<Symbol> symbols;
  bool last_unknown = false;
  for (size_t i = 0; i < word.size();) {
    const size_t len = std::max<size_t>(1, utf8_sequence_length(word, i));
    const auto it = vocab_.find(word.substr(i, len));
    i += len;
    if (it == vocab_.end()) {
      // Not in the vocabulary: <unk> when there is one (once per run with fuse_unk), else dropped.
      if (unk_id_ >= 0 && !(fuse_unk_ && last_unknown)) symbols.push_back({unk_id_, 0, 0, true});
      last_unknown = true;
      continue;
    }
    last_unknown = false;
    symbols.push_back({it->second, 0, 0, true});
  }
  const int n = static_cast<int>(symbols.size());
  for (int i = 0; i < n; ++i) {
    symbols[i].prev = i - 1;
    symbols[i].next = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    int rank, pos, merged;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
  const auto lookup = [&](int left, int right) -> const Merge* {
    const auto it = merges_.find(pair_key(symbols[left].id, symbols[right].id));
    return it == merges_.end() ? nullptr : &it->second;
  };
  const auto offer = [&](int left) {
    if (left < 0 || symbols[left].next < 0) return;
    if (const Merge* m = lookup(left, symbols[left].next)) heap.push({m->rank, left, m->id});
  };
  for (int i = 0; i + 1 < n; ++i) offer(i);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    Symbol& left = symbols[c.pos];
    if (!left.alive || left.next < 0) continue;
    const Merge* m = lookup(c.pos, left.next);
    if (!m || m->id != c.merged) continue;  // the pair changed since it was offered
    Symbol& right = symbols[left.next];
    left.id = c.merged;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = c.pos;
    offer(left.prev);
    offer(c.pos);
  }
  for (int i = n ? 0 : -1; i >= 0; i = symbols[i].next) ids.push_back(symbols[i].id);
}

std::vector<int> BpeTokenizer::encode(std::string_view text, bool bos, bool eos) const {
  check_utf8(text);
  std::vector<int> ids;
  if (bos) {
    if (bos_id_ < 0) throw std::invalid_argument(name_ + ": this tokenizer has no BOS token");
    ids.push_back(bos_id_);
  }
  split_added(text, false, ids, [&](std::string_view raw) {
    if (!nfc_) {
      split_added(raw, true, ids, [&](std::string_view t) { encode_ordinary(t, ids); });
      return;
    }
    const std::string normalized = nfc_normalize(raw);
    split_added(normalized, true, ids, [&](std::string_view t) { encode_ordinary(t, ids); });
  });
  if (eos) {
    if (eos_id_ < 0) throw std::invalid_argument(name_ + ": this tokenizer has no EOS token");
    ids.push_back(eos_id_);
  }
  return ids;
}

std::string BpeTokenizer::decode(const std::vector<int>& ids) const {
  std::string bytes;
  for (int id : ids) {
    if (id < 0 || id >= vocab_size())
      throw std::out_of_range(name_ + ": token id " + std::to_string(id) + " outside [0, " +
                              std::to_string(vocab_size()) + ")");
    if (is_special_[id]) continue;
    bytes += byte_level_decode_token(pieces_[id]);
  }
  return utf8_lossy(bytes);
}

}  // namespace emrrg::data
