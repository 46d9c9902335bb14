// WordPiece (BERT vocab.txt, uncased) against transformers' BertTokenizer: the tokens and ids it
// gives on tests/fixtures/chexbert/vocab.txt (made by tests/golden/make_chexbert_golden.py) for
// reports, punctuation, accents, other scripts, CJK, control characters, long and unknown words;
// plus malformed vocabularies.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/data/data_test_util.h"
#include "train/data/wordpiece_tokenizer.h"

using namespace emrrg::data;
using emrrg::data::testing::read_text;
using emrrg::data::testing::scratch_dir;
using emrrg::data::testing::write_text;

namespace {

const std::string kDir = std::string(EMRRG_FIXTURES_DIR) + "/chexbert";

TEST(WordPieceTokenizer, MatchesBertTokenizer) {
  const auto tok = WordPieceTokenizer::from_file(kDir + "/vocab.txt");
  const nlohmann::json vectors = nlohmann::json::parse(read_text(kDir + "/wordpiece_vectors.json"));
  ASSERT_GE(vectors.size(), 25u);
  for (const auto& v : vectors) {
    const std::string text = v["text"];
    EXPECT_EQ(tok.tokenize(text), v["tokens"].get<std::vector<std::string>>()) << "text: " << text;
    EXPECT_EQ(tok.encode(text), v["ids"].get<std::vector<int>>()) << "text: " << text;
  }
}

TEST(WordPieceTokenizer, SpecialIdsAndTruncation) {
  const auto tok = WordPieceTokenizer::from_file(kDir + "/vocab.txt");
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.unk_id(), 1);
  EXPECT_EQ(tok.cls_id(), 2);
  EXPECT_EQ(tok.sep_id(), 3);
  EXPECT_EQ(tok.token(tok.token_id("##thorax")), "##thorax");
  EXPECT_EQ(tok.token_id("not-in-vocab"), -1);
  EXPECT_THROW(tok.token(tok.vocab_size()), std::out_of_range);
  const auto ids = tok.encode("the heart the heart", 4);
  EXPECT_EQ(ids, (std::vector<int>{tok.cls_id(), tok.token_id("the"), tok.token_id("heart"), tok.sep_id()}));
  EXPECT_EQ(tok.encode("", 2), (std::vector<int>{tok.cls_id(), tok.sep_id()}));
  EXPECT_THROW(tok.encode("x", 1), std::invalid_argument);
  EXPECT_THROW(tok.tokenize("bad \xff byte"), std::invalid_argument);
}

TEST(WordPieceTokenizer, VocabularyFiles) {
  const std::string dir = scratch_dir("wordpiece");
  // \r\n and \r end lines as Python's universal newlines; a repeated token keeps its last id.
  const auto crlf = WordPieceTokenizer("[PAD]\r\n[UNK]\r[CLS]\n[SEP]\nab\n##c\nab", "inline");
  EXPECT_EQ(crlf.vocab_size(), 7);
  EXPECT_EQ(crlf.token_id("ab"), 6);
  EXPECT_EQ(crlf.tokenize("ABC abd"), (std::vector<std::string>{"ab", "##c", "[UNK]"}));

  const auto message = [](auto&& f) {
    try {
      f();
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] { WordPieceTokenizer::from_file(dir + "/missing.txt"); }).find("missing.txt"), std::string::npos);
  write_text(dir + "/empty.txt", "");
  EXPECT_NE(message([&] { WordPieceTokenizer::from_file(dir + "/empty.txt"); }).find("is empty"), std::string::npos);
  write_text(dir + "/no_unk.txt", "[PAD]\n[CLS]\n[SEP]\n");
  EXPECT_NE(message([&] { WordPieceTokenizer::from_file(dir + "/no_unk.txt"); }).find("no [UNK]"), std::string::npos);
  write_text(dir + "/bad_utf8.txt", "[PAD]\n[UNK]\n\xc3\x28\n");
  EXPECT_NE(message([&] { WordPieceTokenizer::from_file(dir + "/bad_utf8.txt"); }).find("line 3"), std::string::npos);
}

}  // namespace
