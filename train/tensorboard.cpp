#include "train/tensorboard.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "train/atomic_file.h"
#include "train/crc32c.h"

namespace emrrg::train {

namespace {

// Protocol buffers wire format, only what Event needs.
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
template <typename T> void put_fixed(std::string& out, T v) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &v, sizeof(T));  // little-endian host (x86-64, aarch64)
  out.append(bytes, sizeof(T));
}
void put_tag(std::string& out, int field, int wire_type) {
  put_varint(out, static_cast<uint64_t>(field << 3 | wire_type));
}
void put_bytes(std::string& out, int field, const std::string& bytes) {
  put_tag(out, field, 2);
  put_varint(out, bytes.size());
  out += bytes;
}

std::string event_header(double wall_time, int64_t step) {
  std::string e;
  put_tag(e, 1, 1);
  put_fixed(e, wall_time);
  put_tag(e, 2, 0);
  put_varint(e, static_cast<uint64_t>(step));
  return e;
}

double system_clock_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) return "localhost";
  return host;
}

}  // namespace

TensorBoardWriter::TensorBoardWriter(std::string path, std::function<double()> clock, int)
    : path_(std::move(path)), clock_(clock ? std::move(clock) : system_clock_seconds) {
  file_ = std::fopen(path_.c_str(), "wb");
  if (!file_) throw std::runtime_error("tensorboard: cannot create '" + path_ + "': " + std::strerror(errno));
  std::string e = event_header(clock_(), 0);
  put_bytes(e, 3, "brain.Event:2");
  write_record(e);
}

TensorBoardWriter::TensorBoardWriter(const std::string& dir, std::function<double()> clock)
    : TensorBoardWriter(
          [&] {
            std::filesystem::create_directories(dir);
            const auto seconds = static_cast<int64_t>(system_clock_seconds());
            return (std::filesystem::path(dir) / ("events.out.tfevents." + std::to_string(seconds) + "." + host_name() +
                                                  "." + std::to_string(getpid())))
                .string();
          }(),
          std::move(clock), 0) {}

TensorBoardWriter TensorBoardWriter::at_path(const std::string& path, std::function<double()> clock) {
  return TensorBoardWriter(path, std::move(clock), 0);
}

TensorBoardWriter::TensorBoardWriter(TensorBoardWriter&& other) noexcept
    : path_(std::move(other.path_)), clock_(std::move(other.clock_)), file_(other.file_) {
  other.file_ = nullptr;
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_) std::fclose(file_);
}

void TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step) {
  std::string v;
  put_bytes(v, 1, tag);
  put_tag(v, 2, 5);
  put_fixed(v, static_cast<float>(value));
  std::string summary;
  put_bytes(summary, 1, v);
  std::string e = event_header(clock_(), step);
  put_bytes(e, 5, summary);
  write_record(e);
}

void TensorBoardWriter::write_record(const std::string& data) {
  std::string rec;
  const uint64_t len = data.size();
  put_fixed(rec, len);
  put_fixed(rec, masked_crc32c(crc32c(rec.data(), 8)));
  rec += data;
  put_fixed(rec, masked_crc32c(crc32c(data)));
  if (std::fwrite(rec.data(), 1, rec.size(), file_) != rec.size() || std::fflush(file_) != 0)
    throw std::runtime_error("tensorboard: write to '" + path_ + "' failed: " + std::strerror(errno));
}

std::vector<std::string> read_tfrecords(const std::string& path) {
  const std::string bytes = read_file(path);
  std::vector<std::string> records;
  size_t pos = 0;
  const auto u32 = [&](size_t at) {
    uint32_t v;
    std::memcpy(&v, bytes.data() + at, 4);
    return v;
  };
  while (pos < bytes.size()) {
    const std::string where = "tfrecord '" + path + "' at byte " + std::to_string(pos) + ": ";
    if (bytes.size() - pos < 12) throw std::runtime_error(where + "truncated length header");
    uint64_t len;
    std::memcpy(&len, bytes.data() + pos, 8);
    if (u32(pos + 8) != masked_crc32c(crc32c(bytes.data() + pos, 8)))
      throw std::runtime_error(where + "length checksum mismatch");
    if (len > bytes.size() - pos - 12 || bytes.size() - pos - 12 - len < 4)
      throw std::runtime_error(where + "record of " + std::to_string(len) + " bytes runs past the end of the file");
    const std::string data = bytes.substr(pos + 12, len);
    if (u32(pos + 12 + len) != masked_crc32c(crc32c(data))) throw std::runtime_error(where + "data checksum mismatch");
    records.push_back(data);
    pos += 16 + len;
  }
  return records;
}

}  // namespace emrrg::train
