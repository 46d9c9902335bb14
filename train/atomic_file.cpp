#include "train/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace emrrg::train {

namespace {
[[noreturn]] void fail(const std::string& what, const std::string& path, const char* file, int line) {
  throw std::runtime_error(what + " '" + path + "': " + std::strerror(errno) + " (" + file + ":" +
                           std::to_string(line) + ")");
}
#define EMRRG_FILE_FAIL(what, path) fail(what, path, __FILE__, __LINE__)

void fsync_fd_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) EMRRG_FILE_FAIL("cannot open for fsync", path);
  if (::fsync(fd) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    EMRRG_FILE_FAIL("fsync failed on", path);
  }
  if (::close(fd) != 0) EMRRG_FILE_FAIL("close failed on", path);
}

std::string parent_of(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}
}  // namespace

void fsync_path(const std::string& path) { fsync_fd_path(path, O_RDONLY); }

void fsync_directory(const std::string& dir) { fsync_fd_path(dir, O_RDONLY | O_DIRECTORY); }

void write_file_atomic(const std::string& path, std::string_view content) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) EMRRG_FILE_FAIL("cannot create", tmp);
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int saved = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      errno = saved;
      EMRRG_FILE_FAIL("write failed on", tmp);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int saved = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    errno = saved;
    EMRRG_FILE_FAIL("fsync failed on", tmp);
  }
  if (::close(fd) != 0) EMRRG_FILE_FAIL("close failed on", tmp);
  rename_durably(tmp, path);
}

void rename_durably(const std::string& from, const std::string& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) EMRRG_FILE_FAIL("cannot rename '" + from + "' to", to);
  fsync_directory(parent_of(to));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw std::runtime_error("cannot read '" + path + "'");
  return ss.str();
}

}  // namespace emrrg::train
