// Tokenizer vectors: the Llama 2 ids of reference/NOTES.md §6 through both back ends
// (SentencePiece and our llama2.c tokenizer.bin BPE), and agreement of the two on tok512.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "train/data/llama2c_tokenizer.h"
#include "train/data/sentencepiece_tokenizer.h"
#include "train/data/tokenizer.h"

using namespace emrrg::data;

namespace {
const std::string kDir = std::string(EMRRG_FIXTURES_DIR) + "/tokenizers/";

struct Vector {
  std::string text;
  std::vector<int> ids;  // with BOS
};
const std::vector<Vector>& llama2_vectors() {
  static const std::vector<Vector> v = {
      {"I believe the meaning of life is", {1, 306, 4658, 278, 6593, 310, 2834, 338}},
      {"Simply put, the theory of relativity states that ",
       {1, 3439, 17632, 1925, 29892, 278, 6368, 310, 14215, 537, 5922, 393, 29871}},
      {"", {1}},
  };
  return v;
}

// Texts that exercise spaces, punctuation, digits, newlines and byte fallback (CJK, emoji).
const std::vector<std::string>& probe_texts() {
  static const std::vector<std::string> v = {
      "the heart is normal in size . the lungs are clear .",
      "Once upon a time, there was a little girl named Lily.",
      "  two leading spaces and trailing  ",
      "x-ray 1. 2. 3.\nline two\ttab",
      "caf\xC3\xA9 na\xC3\xAFve \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x98\x80!",
      "Human: <Img></Img> Generate a comprehensive and detailed diagnosis report for this chest xray image. \nAssistant:",
  };
  return v;
}
}  // namespace

TEST(SentencePieceTokenizer, Llama2Vectors) {
  SentencePieceTokenizer tok(kDir + "llama2.model");
  EXPECT_EQ(tok.vocab_size(), 32000);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  for (const auto& v : llama2_vectors()) {
    EXPECT_EQ(tok.encode(v.text, /*bos=*/true), v.ids) << v.text;
    std::vector<int> no_bos(v.ids.begin() + 1, v.ids.end());
    EXPECT_EQ(tok.encode(v.text), no_bos) << v.text;
    auto with_eos = v.ids;
    with_eos.push_back(2);
    EXPECT_EQ(tok.encode(v.text, true, true), with_eos);
    EXPECT_EQ(tok.decode(v.ids), v.text) << v.text;
  }
}

TEST(Llama2cTokenizer, Llama2Vectors) {
  Llama2cTokenizer tok(kDir + "llama2.bin");
  EXPECT_EQ(tok.vocab_size(), 32000);
  EXPECT_EQ(tok.max_token_length(), 27);
  for (const auto& v : llama2_vectors()) {
    EXPECT_EQ(tok.encode(v.text, true), v.ids) << v.text;
    EXPECT_EQ(tok.decode(v.ids), v.text) << v.text;
  }
}

TEST(Tokenizers, BackEndsAgreeOnProbeTexts) {
  for (const std::string name : {"llama2", "tok512"}) {
    SentencePieceTokenizer sp(kDir + name + ".model");
    Llama2cTokenizer bin(kDir + name + ".bin");
    ASSERT_EQ(sp.vocab_size(), bin.vocab_size()) << name;
    for (const auto& text : probe_texts()) {
      // tok512.model was trained with SentencePiece's default remove_extra_whitespaces, which
      // tokenizer.bin cannot record (see WhitespaceNormalisation); Llama 2's model keeps spaces.
      if (name == std::string("tok512") && text.find("  ") != std::string::npos) continue;
      const auto ids = sp.encode(text, true, true);
      EXPECT_EQ(bin.encode(text, true, true), ids) << name << ": " << text;
      EXPECT_EQ(sp.decode(ids), text) << name << ": " << text;
      EXPECT_EQ(bin.decode(ids), text) << name << ": " << text;
    }
  }
}

TEST(Tokenizers, WhitespaceNormalisation) {
  // SentencePiece applies the model's normaliser: tok512 collapses and trims runs of spaces;
  // llama2.c's format has no normaliser spec, so its encoder (like run.c) keeps them.
  SentencePieceTokenizer sp(kDir + "tok512.model");
  Llama2cTokenizer bin(kDir + "tok512.bin");
  EXPECT_EQ(sp.encode("  a  b  "), sp.encode("a b"));
  EXPECT_EQ(bin.encode("a b"), sp.encode("a b"));
  EXPECT_NE(bin.encode("  a  b  "), bin.encode("a b"));
  EXPECT_EQ(bin.decode(bin.encode("  a  b  ")), "  a  b  ");
  SentencePieceTokenizer llama(kDir + "llama2.model");
  EXPECT_EQ(llama.decode(llama.encode("  a  b  ")), "  a  b  ");
}

TEST(Tokenizers, ByteFallback) {
  // tok512 has no CJK pieces: each byte of the UTF-8 becomes a byte piece <0xXX> = id byte+3.
  SentencePieceTokenizer sp(kDir + "tok512.model");
  Llama2cTokenizer bin(kDir + "tok512.bin");
  const std::string text = "\xE6\x97\xA5";  // U+65E5
  const std::vector<int> expected_tail = {0xE6 + 3, 0x97 + 3, 0xA5 + 3};
  for (const Tokenizer* t : {static_cast<const Tokenizer*>(&sp), static_cast<const Tokenizer*>(&bin)}) {
    const auto ids = t->encode(text);
    ASSERT_GE(ids.size(), 3u);
    EXPECT_EQ(std::vector<int>(ids.end() - 3, ids.end()), expected_tail);
    EXPECT_EQ(t->decode(ids), text);
  }
  EXPECT_EQ(sp.piece(0xE6 + 3), "<0xE6>");
}

TEST(Tokenizers, LoadPicksFormatFromContent) {
  auto a = load_tokenizer(kDir + "tok512.model");
  auto b = load_tokenizer(kDir + "tok512.bin");
  EXPECT_NE(dynamic_cast<SentencePieceTokenizer*>(a.get()), nullptr);
  EXPECT_NE(dynamic_cast<Llama2cTokenizer*>(b.get()), nullptr);
  EXPECT_EQ(a->encode("Lily", true), b->encode("Lily", true));
}

TEST(Tokenizers, OutOfRangeIdsAreErrors) {
  auto t = load_tokenizer(kDir + "tok512.bin");
  EXPECT_THROW(t->decode({1, 512}), std::out_of_range);
  EXPECT_THROW(t->decode({-1}), std::out_of_range);
  auto s = load_tokenizer(kDir + "tok512.model");
  EXPECT_THROW(s->decode({5, 99999}), std::out_of_range);
}

TEST(Tokenizers, MalformedFilesGiveClearErrors) {
  const std::string dir = ::testing::TempDir();
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir + name, std::ios::binary) << bytes;
    return dir + name;
  };
  EXPECT_THROW(load_tokenizer(dir + "does-not-exist.model"), std::runtime_error);
  EXPECT_THROW(load_tokenizer(write("empty.bin", "")), std::runtime_error);
  EXPECT_THROW(load_tokenizer(write("garbage.model", "this is not a sentencepiece model at all")), std::runtime_error);
  // A tokenizer.bin cut in the middle of a record names the token.
  std::ifstream in(kDir + "tok512.bin", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = write("cut.bin", bytes.substr(0, 1000));
  try {
    Llama2cTokenizer t(cut);
    FAIL() << "truncated file accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("token"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cut.bin"), std::string::npos) << e.what();
  }
  // A record whose length exceeds max_token_length.
  std::string bad = bytes;
  const int32_t huge = 1 << 20;
  std::memcpy(&bad[4 + 4], &huge, 4);
  EXPECT_THROW(Llama2cTokenizer(bad, "bad.bin"), std::runtime_error);
}
