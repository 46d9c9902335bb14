// Byte-level BPE (tokenizer.json) against the `tokenizers` library: a Qwen2-style tokenizer
// trained by tests/golden/make_bpe_golden.py and the ids and texts it gives; plus the file's
// variants (string merges, tokenizer_config.json) and malformed files.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/data/data_test_util.h"
#include "train/data/bpe_tokenizer.h"
#include "train/data/byte_level.h"
#include "train/data/tokenizer.h"

using namespace emrrg::data;
using emrrg::data::testing::read_text;
using emrrg::data::testing::scratch_dir;
using emrrg::data::testing::write_text;

namespace {

const std::string kTokenizer = std::string(EMRRG_FIXTURES_DIR) + "/tokenizers/qwen2_style_bpe.json";
const std::string kVectors = std::string(EMRRG_FIXTURES_DIR) + "/tokenizers/qwen2_style_bpe_vectors.json";

struct Vector {
  std::string text, decoded;
  std::vector<int> ids;
};

std::vector<Vector> golden_vectors() {
  const nlohmann::json j = nlohmann::json::parse(read_text(kVectors));
  std::vector<Vector> out;
  for (const auto& v : j["vectors"]) out.push_back({v["text"], v["decoded"], v["ids"].get<std::vector<int>>()});
  return out;
}

void expect_golden(const Tokenizer& tok) {
  const std::vector<Vector> vectors = golden_vectors();
  ASSERT_GE(vectors.size(), 20u);
  for (const Vector& v : vectors) {
    EXPECT_EQ(tok.encode(v.text), v.ids) << "text: " << v.text;
    EXPECT_EQ(tok.decode(v.ids), v.decoded) << "text: " << v.text;
  }
}

TEST(BpeTokenizer, MatchesHuggingFaceTokenizers) {
  const auto tok = load_tokenizer(kTokenizer);
  ASSERT_NE(dynamic_cast<const BpeTokenizer*>(tok.get()), nullptr);
  EXPECT_EQ(tok->vocab_size(), 706);
  expect_golden(*tok);
}

TEST(BpeTokenizer, SpecialTokensAndQwenConventions) {
  const BpeTokenizer tok(kTokenizer);
  EXPECT_EQ(tok.eos_id(), 700);  // <|endoftext|>, no tokenizer_config.json beside the fixture
  EXPECT_EQ(tok.bos_id(), -1);   // Qwen adds no BOS
  EXPECT_EQ(tok.token_id("<|im_start|>"), 701);
  EXPECT_EQ(tok.piece(701), "<|im_start|>");
  EXPECT_THROW(tok.encode("x", true), std::invalid_argument);
  const std::vector<int> ids = tok.encode("Findings", false, true);
  EXPECT_EQ(ids.back(), 700);
  EXPECT_EQ(tok.decode(ids), "Findings");  // special tokens print nothing
  // Digits are split one by one (Qwen2's \p{N}).
  const std::vector<int> digits = tok.encode("2019");
  ASSERT_EQ(digits.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(tok.piece(digits[i]), std::string(1, "2019"[i]));
}

TEST(BpeTokenizer, DecodeMapsBytesBackAndReplacesBrokenUtf8) {
  const BpeTokenizer tok(kTokenizer);
  // 'é' is C3 A9: each byte-level character alone is half a character.
  const int c3 = tok.token_id(byte_level_char(0xC3)), a9 = tok.token_id(byte_level_char(0xA9));
  ASSERT_GE(c3, 0);
  ASSERT_GE(a9, 0);
  EXPECT_EQ(tok.decode({c3, a9}), "\xC3\xA9");
  EXPECT_EQ(tok.decode({c3}), "\xEF\xBF\xBD");
  EXPECT_EQ(tok.decode({a9, c3}), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_THROW(tok.decode({706}), std::out_of_range);
  EXPECT_THROW(tok.decode({-1}), std::out_of_range);
  EXPECT_THROW(tok.encode("bad \xC3("), std::invalid_argument);
}

TEST(BpeTokenizer, LongRunsRoundTripWithinPcre2Limits) {
  // Runs of one kind become single pre-tokens (\s+, \p{L}+): regex and merges must cope with
  // 64 KiB of them (PCRE2's match and JIT stack limits, the merge heap).
  const BpeTokenizer tok(kTokenizer);
  for (const std::string unit : {" ", "a", "7", "\n", "\xF0\x9F\xA4\x92", " \t", "ab1 ", "\r\n  x"}) {
    std::string text;
    while (text.size() < (64u << 10)) text += unit;
    EXPECT_EQ(tok.decode(tok.encode(text)), text) << "unit '" << unit << "'";
  }
}

TEST(BpeTokenizer, ByteLevelAlphabet) {
  std::set<std::string> spellings;
  for (int b = 0; b < 256; ++b) {
    spellings.insert(byte_level_char(static_cast<uint8_t>(b)));
    EXPECT_EQ(byte_level_decode_token(byte_level_char(static_cast<uint8_t>(b))), std::string(1, static_cast<char>(b)));
  }
  EXPECT_EQ(spellings.size(), 256u);
  EXPECT_EQ(byte_level_char(' '), "\xC4\xA0");   // Ġ
  EXPECT_EQ(byte_level_char('\n'), "\xC4\x8A");  // Ċ
  EXPECT_EQ(byte_level_char('a'), "a");
  EXPECT_EQ(byte_level_decode_token("a b"), "a b");  // ' ' is not in the alphabet: kept as it is
}

TEST(BpeTokenizer, MergesAsStringsReadTheSame) {
  nlohmann::json j = nlohmann::json::parse(read_text(kTokenizer));
  ASSERT_TRUE(j["model"]["merges"][0].is_array());
  for (auto& m : j["model"]["merges"]) m = m[0].get<std::string>() + " " + m[1].get<std::string>();
  const std::string path = scratch_dir("bpe_string_merges") + "/tokenizer.json";
  write_text(path, j.dump());
  expect_golden(*load_tokenizer(path));
}

TEST(BpeTokenizer, TokenizerConfigBesideSetsBosAndEos) {
  const std::string dir = scratch_dir("bpe_config");
  write_text(dir + "/tokenizer.json", read_text(kTokenizer));
  write_text(dir + "/tokenizer_config.json",
             R"({"bos_token": null, "eos_token": {"content": "<|im_end|>", "special": true}})");
  BpeTokenizer tok(dir + "/tokenizer.json");
  EXPECT_EQ(tok.eos_id(), 702);
  EXPECT_EQ(tok.bos_id(), -1);
  write_text(dir + "/tokenizer_config.json", R"({"bos_token": "<|im_start|>", "eos_token": "<s>"})");
  try {
    BpeTokenizer bad(dir + "/tokenizer.json");
    FAIL() << "an unknown eos_token must be an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer_config.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("eos_token"), std::string::npos) << e.what();
  }
}

// Each edit of the fixture must fail to load with a message naming the file and `field`.
void expect_rejected(const std::string& name, const std::function<void(nlohmann::json&)>& edit,
                     const std::string& field) {
  nlohmann::json j = nlohmann::json::parse(read_text(kTokenizer));
  edit(j);
  const std::string path = scratch_dir("bpe_bad") + "/" + name + ".json";
  write_text(path, j.dump());
  try {
    load_tokenizer(path);
    ADD_FAILURE() << name << ": loaded";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << name << ": " << message;
    EXPECT_NE(message.find(field), std::string::npos) << name << ": " << message;
  }
}

TEST(BpeTokenizer, MalformedFilesNameTheField) {
  expect_rejected("no_model", [](auto& j) { j.erase("model"); }, "'model'");
  expect_rejected("vocab_not_object", [](auto& j) { j["model"]["vocab"] = 3; }, "'model.vocab'");
  expect_rejected("bad_id", [](auto& j) { j["model"]["vocab"]["a"] = "x"; }, "'model.vocab'");
  expect_rejected("merge_unknown_piece", [](auto& j) { j["model"]["merges"][3] = {"a", "\xE2\x82\xAC"}; },
                  "'model.merges[3]'");
  expect_rejected("merge_three_parts", [](auto& j) { j["model"]["merges"][5] = "a b c"; }, "'model.merges[5]'");
  expect_rejected("merge_not_pair", [](auto& j) { j["model"]["merges"][0] = 7; }, "'model.merges[0]'");
  expect_rejected("wordpiece", [](auto& j) { j["model"]["type"] = "WordPiece"; }, "'model.type'");
  expect_rejected("normalizer", [](auto& j) { j["normalizer"] = {{"type", "Lowercase"}}; }, "'normalizer.type'");
  expect_rejected("split_behaviour", [](auto& j) { j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed"; },
                  "'pre_tokenizer.pretokenizers[0].behavior'");
  expect_rejected("bad_regex", [](auto& j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(a"; },
                  "'pre_tokenizer.pretokenizers[0].pattern'");
  expect_rejected("prefix_space",
                  [](auto& j) { j["pre_tokenizer"]["pretokenizers"][1]["add_prefix_space"] = true; },
                  "'pre_tokenizer.pretokenizers[1].add_prefix_space'");
  expect_rejected("added_no_id", [](auto& j) { j["added_tokens"][0].erase("id"); }, "'added_tokens[0].id'");
  expect_rejected("added_empty", [](auto& j) { j["added_tokens"][2]["content"] = ""; }, "'added_tokens[2].content'");
  expect_rejected("decoder", [](auto& j) { j["decoder"] = nullptr; }, "'decoder'");

  const std::string path = scratch_dir("bpe_bad") + "/truncated.json";
  write_text(path, read_text(kTokenizer).substr(0, 5000));
  try {
    load_tokenizer(path);
    ADD_FAILURE() << "a truncated file loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos) << e.what();
  }
}

TEST(BpeTokenizer, GptStyleByteLevelRegexAndUnknownPieces) {
  // The golden script's variant: ByteLevel(use_regex=true) alone (GPT-2's regex: digit runs stay
  // one piece) and the byte '7' removed from the vocabulary with its merges, <unk> = 'x' fused
  // per run of unknown characters.
  nlohmann::json j = nlohmann::json::parse(read_text(kTokenizer));
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  j["model"]["vocab"].erase("7");
  nlohmann::json merges = nlohmann::json::array();
  for (const auto& m : j["model"]["merges"])
    if (m[0].get<std::string>().find('7') == std::string::npos &&
        m[1].get<std::string>().find('7') == std::string::npos)
      merges.push_back(m);
  j["model"]["merges"] = merges;
  j["model"]["unk_token"] = "x";
  j["model"]["fuse_unk"] = true;
  const BpeTokenizer tok(j.dump(), "gpt2-style");
  const nlohmann::json vectors = nlohmann::json::parse(read_text(kVectors))["gpt2_style_variant"];
  ASSERT_EQ(vectors.size(), 4u);
  for (const auto& v : vectors) {
    EXPECT_EQ(tok.encode(v["text"].get<std::string>()), v["ids"].get<std::vector<int>>()) << v["text"];
    EXPECT_EQ(tok.decode(v["ids"].get<std::vector<int>>()), v["decoded"].get<std::string>()) << v["text"];
  }
}

}  // namespace
