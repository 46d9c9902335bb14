// Read-only access to a zip archive's entries (the container of torch.save files), through
// libzip. The archive is opened with libzip's consistency checks (every local header agrees with
// the central directory, entries inside the file, no overlaps) and each entry's CRC is checked
// when it is read, so a truncated or corrupt archive is an error naming the file and the entry.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace emrrg {

class ZipArchive {
 public:
  // Throws std::runtime_error naming `path` when it cannot be opened or is not a valid zip.
  static ZipArchive open(const std::string& path);

  const std::string& path() const { return path_; }
  const std::vector<std::string>& names() const { return names_; }  // in central-directory order
  bool contains(const std::string& name) const;
  // Uncompressed size of an entry.
  uint64_t size(const std::string& name) const;
  // Reads the whole entry into `out`, which must hold exactly size(name) bytes.
  void read(const std::string& name, void* out, uint64_t nbytes) const;
  std::string read_string(const std::string& name) const;

 private:
  int64_t index_of(const std::string& name) const;
  std::string path_;
  std::shared_ptr<void> zip_;  // zip_t, closed when the last copy goes
  std::vector<std::string> names_;
};

}  // namespace emrrg
