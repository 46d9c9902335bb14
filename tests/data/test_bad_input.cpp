// Bad input: malformed annotation files and entries, missing or corrupt images. Each gives a
// clear error naming the entry and the file, or (skip_bad) is skipped and counted.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/data/data_test_util.h"
#include "train/data/annotation.h"
#include "train/data/dataset.h"
#include "train/data/image_io.h"
#include "train/data/loader.h"

using namespace emrrg::data;
using namespace emrrg::data::testing;

namespace {
// Expects `f` to throw E whose message contains every fragment.
template <typename E, typename F>
void expect_error(F f, std::initializer_list<std::string> fragments) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const E& e) {
    const std::string what = e.what();
    for (const auto& frag : fragments) EXPECT_NE(what.find(frag), std::string::npos) << "'" << frag << "' not in: " << what;
  }
}

AnnotationSplit parse(const std::string& json, const std::string& split = "train", bool skip = false) {
  AnnotationOptions o;
  o.skip_bad = skip;
  return parse_annotation_split(json, "ann.json", split, o);
}
}  // namespace

TEST(BadAnnotation, FileLevelProblems) {
  expect_error<AnnotationError>([] { parse("{\"train\": [ {\"id\": 1,, } ]"); }, {"ann.json", "not valid JSON"});
  expect_error<AnnotationError>([] { parse(""); }, {"ann.json", "not valid JSON"});
  expect_error<AnnotationError>([] { parse("[1, 2]"); }, {"ann.json", "top level is a array"});
  expect_error<AnnotationError>([] { parse("{\"val\": [], \"test\": []}"); }, {"no split \"train\"", "\"val\"", "\"test\""});
  expect_error<AnnotationError>([] { parse("{\"train\": {\"id\": \"a\"}}"); }, {"split \"train\" is a object", "expected a list"});
  expect_error<AnnotationError>([] { parse("{\"train\": \"x\"}"); }, {"is a string"});
  // Even with skip_bad the file-level problems are errors.
  expect_error<AnnotationError>([] { parse("{\"train\": 3}", "train", true); }, {"expected a list"});
  expect_error<AnnotationError>([] { load_annotation_split("/nonexistent/annotation.json", "train"); },
                                {"cannot open", "/nonexistent/annotation.json"});
}

TEST(BadAnnotation, SplitNamesWithWhiteSpace) {
  const std::string json = R"({"train": [], "test    ": [{"id": "a", "report": "r", "image_path": ["a.png"]}]})";
  expect_error<AnnotationError>([&] { parse(json, "test"); }, {"no split \"test\"", "\"test    \"", "white space"});
  AnnotationOptions lenient;
  lenient.lenient_split_names = true;
  EXPECT_EQ(parse_annotation_split(json, "ann.json", "test", lenient).entries.size(), 1u);
}

TEST(BadAnnotation, EntryProblemsNameTheEntry) {
  auto one = [](const std::string& entry) { return "{\"train\": [{\"id\": \"ok\", \"report\": \"r\", \"image_path\": [\"x.png\"]}, " + entry + "]}"; };
  struct Case {
    std::string entry;
    std::vector<std::string> fragments;
  };
  const std::vector<Case> cases = {
      {"5", {"entry #1", "not an object"}},
      {R"({"report": "r", "image_path": ["a.png"]})", {"entry #1", "no \"id\""}},
      {R"({"id": [1], "report": "r", "image_path": ["a.png"]})", {"entry #1", "\"id\" of type array"}},
      {R"({"id": "s7", "image_path": ["a.png"]})", {"entry #1", "id 's7'", "no \"report\""}},
      {R"({"id": "s7", "report": null, "image_path": ["a.png"]})", {"id 's7'", "\"report\" of type null"}},
      {R"({"id": "s7", "report": "r"})", {"id 's7'", "no \"image_path\""}},
      {R"({"id": "s7", "report": "r", "image_path": "a.png"})", {"id 's7'", "as a string"}},
      {R"({"id": "s7", "report": "r", "image_path": []})", {"id 's7'", "empty \"image_path\""}},
      {R"({"id": "s7", "report": "r", "image_path": ["a.png", 3]})", {"id 's7'", "image_path[1]"}},
      {R"({"id": "s7", "report": "r", "image_path": ["a.png"], "labels": [1, 2]})", {"id 's7'", "labels"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.entry);
    try {
      parse(one(c.entry));
      ADD_FAILURE() << "accepted";
    } catch (const AnnotationError& e) {
      for (const auto& f : c.fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("ann.json"), std::string::npos);
    }
    const AnnotationSplit skipped = parse(one(c.entry), "train", /*skip=*/true);
    EXPECT_EQ(skipped.entries.size(), 1u);
    ASSERT_EQ(skipped.problems.size(), 1u);
    EXPECT_NE(skipped.problems[0].find("entry #1"), std::string::npos);
  }
  // Extra keys and numeric ids are fine.
  const auto ok = parse(R"({"train": [{"id": 12, "report": "r", "image_path": ["a.png"], "study_id": 5, "split": "train"}]})");
  ASSERT_EQ(ok.entries.size(), 1u);
  EXPECT_EQ(ok.entries[0].id, "12");
}

namespace {
// A copy of the demo set's train split with some entries and files broken.
std::string broken_copy() {
  const std::string dir = scratch_dir("broken");
  std::filesystem::copy(demo_dir(), dir, std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing);
  const auto root = nlohmann::json::parse(read_text(demo_dir() + "/annotation.json"));
  const auto& train = root["train"];
  // Entry 1: image missing. Entry 2: corrupt PNG bytes. Entry 3: a text file named .png.
  std::filesystem::remove(dir + "/images/" + train[1]["image_path"][0].get<std::string>());
  std::string png = read_text(dir + "/images/" + train[2]["image_path"][1].get<std::string>());
  for (size_t k = 60; k < png.size(); k += 7) png[k] = static_cast<char>(png[k] ^ 0x5A);
  write_text(dir + "/images/" + train[2]["image_path"][1].get<std::string>(), png.substr(0, png.size() / 3));
  write_text(dir + "/images/" + train[3]["image_path"][0].get<std::string>(), "not an image\n");
  return dir;
}
}  // namespace

TEST(BadImages, StopWithAClearErrorByDefault) {
  const std::string dir = broken_copy();
  const auto root = nlohmann::json::parse(read_text(dir + "/annotation.json"));
  DatasetConfig c;
  c.annotation_path = dir + "/annotation.json";
  c.image.size = 32;
  ReportDataset ds(c, llama2_tokenizer());
  std::vector<float> px(ds.image_floats());
  for (int i : {1, 2, 3}) {
    const std::string id = root["train"][i]["id"];
    const std::string expected_file = i == 2 ? root["train"][i]["image_path"][1].get<std::string>()
                                             : root["train"][i]["image_path"][0].get<std::string>();
    expect_error<SampleError>([&] { ds.load_images(i, px.data()); }, {"sample '" + id + "'", expected_file});
  }
  expect_error<SampleError>([&] { ds.load_images(1, px.data()); }, {"cannot open image"});
  expect_error<SampleError>([&] { ds.load_images(3, px.data()); }, {"not a readable image"});
  // Through the loader: next() rethrows the worker's error.
  LoaderConfig lc;
  lc.batch_size = 2;
  lc.shuffle = false;
  lc.num_workers = 2;
  DataLoader loader(ds, lc);
  loader.start_epoch(0);
  Batch b;
  expect_error<SampleError>([&] {
    while (loader.next(b)) {
    }
  }, {"sample '", "split \"train\""});
}

TEST(BadImages, SkipAndCountWhenAsked) {
  const std::string dir = broken_copy();
  DatasetConfig c;
  c.annotation_path = dir + "/annotation.json";
  c.image.size = 32;
  c.skip_bad = true;
  ReportDataset ds(c, llama2_tokenizer());
  for (int workers : {0, 2}) {
    LoaderConfig lc;
    lc.batch_size = 4;
    lc.shuffle = false;
    lc.num_workers = workers;
    DataLoader loader(ds, lc);
    loader.start_epoch(0);
    Batch b;
    size_t total = 0;
    std::vector<size_t> sizes;
    while (loader.next(b)) {
      total += b.size();
      sizes.push_back(b.size());
      EXPECT_EQ(b.images.size(0), static_cast<int64_t>(b.size()));
      for (size_t idx : b.indices) EXPECT_TRUE(idx < 1 || idx > 3) << "bad sample " << idx << " delivered";
    }
    EXPECT_EQ(total, 11u);  // 14 - 3 bad
    EXPECT_EQ(sizes.front(), 1u);  // the first batch (0..3) lost three samples
    EXPECT_EQ(loader.bad_samples(), 3u);
    for (const auto& m : loader.bad_sample_messages()) EXPECT_NE(m.find("sample '"), std::string::npos);
  }
}

TEST(BadImages, EntriesWithTooFewViews) {
  const std::string dir = scratch_dir("views");
  write_text(dir + "/annotation.json",
             R"({"train": [{"id": "a", "report": "r", "image_path": ["a/0.png", "a/1.png"]},
                           {"id": "b", "report": "r", "image_path": ["b/0.png"]}]})");
  DatasetConfig c;
  c.annotation_path = dir + "/annotation.json";
  expect_error<AnnotationError>([&] { ReportDataset ds(c, llama2_tokenizer()); }, {"id 'b'", "1 image path(s)", "2 view(s)"});
  c.skip_bad = true;
  ReportDataset ds(c, llama2_tokenizer());
  EXPECT_EQ(ds.size(), 1u);
  ASSERT_EQ(ds.skipped_entries().size(), 1u);
}
