// TensorBoard event files written natively: TFRecord framing (uint64 length, masked CRC-32C of
// the length, the bytes, masked CRC-32C of the bytes) around hand-encoded Event protos
// (wall_time = 1, step = 2, file_version = 3, summary = 5; Summary.value = 1 with tag = 1 and
// simple_value = 2). The first event carries file_version "brain.Event:2", as TensorFlow's
// writer does; every record is flushed at once so a killed run keeps what it logged.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace emrrg::train {

class TensorBoardWriter {
 public:
  // Creates `dir` and the file events.out.tfevents.<seconds>.<host> in it. `clock` gives the
  // wall time of each event in seconds (tests fix it).
  explicit TensorBoardWriter(const std::string& dir, std::function<double()> clock = {});
  // Writes to exactly `path` (tests).
  static TensorBoardWriter at_path(const std::string& path, std::function<double()> clock = {});
  ~TensorBoardWriter();
  TensorBoardWriter(TensorBoardWriter&& other) noexcept;
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(TensorBoardWriter&&) = delete;

  void add_scalar(const std::string& tag, double value, int64_t step);
  const std::string& path() const { return path_; }

 private:
  TensorBoardWriter(std::string path, std::function<double()> clock, int);
  void write_record(const std::string& data);
  std::string path_;
  std::function<double()> clock_;
  std::FILE* file_ = nullptr;
};

// The record payloads of a TFRecord file, each CRC checked; throws naming the file and the
// record's offset on a bad length or checksum.
std::vector<std::string> read_tfrecords(const std::string& path);

}  // namespace emrrg::train
