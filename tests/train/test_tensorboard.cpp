#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/train/trainer_test_util.h"
#include "train/atomic_file.h"
#include "train/crc32c.h"
#include "train/tensorboard.h"

namespace emrrg {
namespace {

using testing::ScratchDir;

const std::string kFixtureDir = std::string(EMRRG_FIXTURES_DIR) + "/train/tensorboard";

TEST(Crc32c, KnownAnswers) {
  // RFC 3720 B.4 and the common check value of "123456789".
  EXPECT_EQ(train::crc32c("123456789"), 0xE3069283u);
  const std::string zeros(32, '\0');
  EXPECT_EQ(train::crc32c(zeros), 0x8A9136AAu);
  EXPECT_EQ(train::crc32c(std::string_view("6789"), train::crc32c("12345")), train::crc32c("123456789"));
}

// The events the fixture holds: fixed wall times, a few tags, steps and values (one not exact
// in float32, one negative, a large step).
std::string write_fixture_events(const std::string& path) {
  double t = 1700000000.25;
  auto w = train::TensorBoardWriter::at_path(path, [&] { return t += 0.5; });
  w.add_scalar("train/loss", 2.5, 1);
  w.add_scalar("train/loss", 1.25, 2);
  w.add_scalar("train/lr", 1e-4, 2);
  w.add_scalar("val/bleu_4", 0.1, 10);
  w.add_scalar("val/score", -3.75, 3000000000LL);
  return path;
}

TEST(TensorBoard, WritesTheCommittedFileWhichTensorBoardReads) {
  ScratchDir dir("tensorboard");
  const std::string path = write_fixture_events(dir / "events.out.tfevents.fixture");
  if (const char* update = std::getenv("EMRRG_UPDATE_TB_FIXTURE"))
    std::ofstream(update, std::ios::binary) << train::read_file(path);
  // The writer's bytes are the file the golden script gave to TensorBoard's reader...
  EXPECT_EQ(train::read_file(path), train::read_file(kFixtureDir + "/events.out.tfevents.fixture"));
  // ...and the reader's verdict lists exactly the scalars written (tests/golden/read_tensorboard_events.py).
  const nlohmann::json verdict = nlohmann::json::parse(train::read_file(kFixtureDir + "/verdict.json"));
  EXPECT_EQ(verdict["file_version"], "brain.Event:2");
  EXPECT_EQ(verdict["first_wall_time"], 1700000000.75);
  EXPECT_EQ(verdict["events"], 6);  // the reader stops at a record with a bad CRC
  const nlohmann::json expected = {
      {"train/loss",
       {{{"step", 1}, {"value", 2.5}, {"wall_time", 1700000001.25}},
        {{"step", 2}, {"value", 1.25}, {"wall_time", 1700000001.75}}}},
      {"train/lr", {{{"step", 2}, {"value", static_cast<double>(1e-4f)}, {"wall_time", 1700000002.25}}}},
      {"val/bleu_4", {{{"step", 10}, {"value", static_cast<double>(0.1f)}, {"wall_time", 1700000002.75}}}},
      {"val/score", {{{"step", 3000000000LL}, {"value", -3.75}, {"wall_time", 1700000003.25}}}}};
  EXPECT_EQ(verdict["scalars"], expected) << verdict["scalars"].dump(1);
}

TEST(TensorBoard, RecordsAreFramedAndChecked) {
  ScratchDir dir("tensorboard_frames");
  const std::string path = write_fixture_events(dir / "events");
  const std::vector<std::string> records = train::read_tfrecords(path);
  ASSERT_EQ(records.size(), 6u);  // file_version + 5 scalars
  EXPECT_NE(records[0].find("brain.Event:2"), std::string::npos);
  std::string bytes = train::read_file(path);
  bytes[bytes.size() - 6] ^= 0x20;  // inside the last record's data
  std::ofstream(path, std::ios::binary) << bytes;
  EXPECT_THROW(train::read_tfrecords(path), std::runtime_error);
  std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() - 3);
  try {
    train::read_tfrecords(path);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("runs past the end"), std::string::npos) << e.what();
  }
}

TEST(TensorBoard, OneFilePerRunInTheDirectory) {
  ScratchDir dir("tensorboard_dir");
  std::string file;
  {
    train::TensorBoardWriter w(dir / "tb");
    w.add_scalar("a", 1, 1);
    file = w.path();
  }
  EXPECT_EQ(std::filesystem::path(file).parent_path(), std::filesystem::path(dir / "tb"));
  EXPECT_EQ(std::filesystem::path(file).filename().string().rfind("events.out.tfevents.", 0), 0u);
  EXPECT_EQ(train::read_tfrecords(file).size(), 2u);
}

}  // namespace
}  // namespace emrrg
