// Inputs the fuzz targets (tests/fuzz) found to crash, hang or over-allocate a reader, kept in
// the seed corpora as tests/fuzz/corpus/<target>/regress-*: each must now be refused with an
// error naming the file and what is wrong. docs/FUZZING.md lists them.
#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/llama/llama_config.h"
#include "models/llama/llama_loader.h"
#include "train/data/annotation.h"
#include "train/data/bpe_tokenizer.h"
#include "train/data/image_io.h"

namespace emrrg {
namespace {

std::string regression(const std::string& target, const std::string& name) {
  return std::string(EMRRG_SOURCE_DIR) + "/tests/fuzz/corpus/" + target + "/" + name;
}

void expect_refused(const std::function<void()>& read, const std::vector<std::string>& fragments) {
  try {
    read();
    ADD_FAILURE() << "the reader accepted the input";
  } catch (const std::exception& e) {
    for (const auto& f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what() << "\nlacks: " << f;
  }
}

TEST(FuzzRegressions, Llama2cHeaderIsCheckedAgainstTheFileBeforeTheModelIsAllocated) {
  // Llama 2 7B's v1 header on a 4 KB file: 27 GB were allocated before the size check.
  const std::string path = regression("fuzz_llama2c_model", "regress-7b-header-4k-file.bin");
  expect_refused([&] { models::load_llama2c(path); },
                 {path, "truncated", "model.layers.0.input_layernorm.weight", "needs bytes [256, 16640)", "has 4096"});
}

TEST(FuzzRegressions, Llama2cLayerCountIsBoundedByTheFileSize) {
  // 2^31 - 1 layers: the layout listed billions of tensor names before any check.
  const std::string path = regression("fuzz_llama2c_model", "regress-2g-layers.bin");
  expect_refused([&] { models::load_llama2c(path); }, {path, "n_layers 2147483647 cannot fit in a file of 256 bytes"});
}

TEST(FuzzRegressions, Llama2cHugeTensorIsReportedWithItsSize) {
  // An 8 EB embedding (dim 2^30 x vocab 2^31 - 1) in a 4 KB file, computed without wrapping.
  const std::string path = regression("fuzz_llama2c_model", "regress-size-overflow.bin");
  expect_refused([&] { models::load_llama2c(path); },
                 {path, "truncated: tensor 'model.embed_tokens.weight' needs bytes [28, 9223372032559808540)"});
}

TEST(FuzzRegressions, JsonNumberTooLargeIsAnErrorNamingTheFile) {
  // nlohmann::json throws out_of_range, not parse_error, for 1e999: it escaped unnamed.
  const std::string annotation = regression("fuzz_annotation", "regress-number-overflow.json");
  expect_refused([&] { data::load_annotation_split(annotation, "train"); },
                 {annotation, "not valid JSON", "number overflow"});
  const std::string tokenizer = regression("fuzz_tokenizer_json", "regress-number-overflow.json");
  expect_refused([&] { data::BpeTokenizer tok(tokenizer); }, {tokenizer, "not valid JSON", "number overflow"});
}

TEST(FuzzRegressions, ConfigFieldOfTheWrongTypeIsAnErrorNamingTheFileAndField) {
  // "hidden_act": 2: nlohmann::json's type_error escaped without the file's name (found by a
  // 5-minute fuzz_hf_config run).
  const std::string path = regression("fuzz_hf_config", "regress-hidden-act-number.json");
  expect_refused([&] { models::parse_hf_llama_config(path); }, {path, "field 'hidden_act' is not a string: 2"});
}

TEST(FuzzRegressions, JpegHuffmanTableOfMoreThan256CodesIsRefusedBeforeStb) {
  // stb_image 2.27 wrote past its Huffman size table (UBSan: index 257 out of bounds).
  const std::string path = regression("fuzz_image", "regress-stb-huffman-overflow.jpg");
  expect_refused([&] { data::read_image(path); }, {path, "Huffman table of 440 codes", "at most 256"});
  // The same after junk bytes before the frame header, which stb skips.
  const std::string junk = regression("fuzz_image", "regress-stb-huffman-overflow-after-junk.jpg");
  expect_refused([&] { data::read_image(junk); }, {junk, "Huffman table of 339 codes", "at most 256"});
  // And after FF fill bytes before the start-of-image marker, which stb accepts.
  const std::string fill = regression("fuzz_image", "regress-stb-huffman-overflow-fill-before-soi.jpg");
  expect_refused([&] { data::read_image(fill); }, {fill, "Huffman table of 767 codes", "at most 256"});
}

TEST(FuzzRegressions, JpegScanThatUsesAnUndefinedHuffmanTableIsRefusedBeforeStb) {
  // A progressive AC scan naming a table no DHT defined: stb 2.27 decoded with the uninitialised
  // table and read freed heap memory (ASan: heap-use-after-free in stbi__jpeg_huff_decode).
  const std::string path = regression("fuzz_image", "regress-stb-undefined-huffman-table.jpg");
  expect_refused([&] { data::read_image(path); }, {path, "uses AC Huffman table", "which no DHT segment before it defines"});
}

TEST(FuzzRegressions, JpegsWithHuffmanTablesBetweenScansStillDecode) {
  // A progressive JPEG defines tables before each scan: the guard walks past the scans.
  const data::Image image = data::read_image(regression("fuzz_image", "progressive.jpg"));
  EXPECT_EQ(image.width, 5);
  EXPECT_EQ(image.height, 6);
  EXPECT_EQ(image.channels, 3);
}

}  // namespace
}  // namespace emrrg
