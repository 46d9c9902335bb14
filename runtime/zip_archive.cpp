#include "runtime/zip_archive.h"

#include <zip.h>

#include <stdexcept>

namespace emrrg {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("zip archive '" + path + "': " + what);
}

zip_t* handle(const std::shared_ptr<void>& z) { return static_cast<zip_t*>(z.get()); }

}  // namespace

ZipArchive ZipArchive::open(const std::string& path) {
  int code = 0;
  // ZIP_CHECKCONS: compare every local header with the central directory before trusting either.
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (z == nullptr) {
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    const std::string message = zip_error_strerror(&error);
    zip_error_fini(&error);
    fail(path, "cannot open: " + message + (code == ZIP_ER_NOZIP ? " (truncated or damaged)" : ""));
  }
  ZipArchive a;
  a.path_ = path;
  a.zip_ = std::shared_ptr<void>(z, [](void* p) { zip_discard(static_cast<zip_t*>(p)); });
  const zip_int64_t n = zip_get_num_entries(z, 0);
  if (n < 0) fail(path, "cannot count the entries");
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* name = zip_get_name(z, static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
    if (name == nullptr) fail(path, "entry " + std::to_string(i) + " has no name: " + zip_strerror(z));
    a.names_.emplace_back(name);
  }
  return a;
}

int64_t ZipArchive::index_of(const std::string& name) const {
  const zip_int64_t i = zip_name_locate(handle(zip_), name.c_str(), ZIP_FL_ENC_RAW);
  if (i < 0) fail(path_, "no entry named '" + name + "'");
  return i;
}

bool ZipArchive::contains(const std::string& name) const {
  return zip_name_locate(handle(zip_), name.c_str(), ZIP_FL_ENC_RAW) >= 0;
}

uint64_t ZipArchive::size(const std::string& name) const {
  zip_stat_t st;
  zip_stat_init(&st);
  const zip_uint64_t need = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD;
  if (zip_stat_index(handle(zip_), static_cast<zip_uint64_t>(index_of(name)), 0, &st) != 0 || (st.valid & need) != need)
    fail(path_, "cannot read the size of entry '" + name + "': " + zip_strerror(handle(zip_)));
  // The stored size is what callers allocate, so bound it by the bytes actually in the file:
  // equal for stored entries, at most deflate's largest expansion (1032:1) for deflated ones.
  const std::string sizes = std::to_string(st.size) + " bytes from " + std::to_string(st.comp_size);
  if (st.comp_method == ZIP_CM_STORE) {
    if (st.size != st.comp_size) fail(path_, "stored entry '" + name + "' claims " + sizes);
  } else if (st.comp_method == ZIP_CM_DEFLATE) {
    if (st.size / 1032 > st.comp_size) fail(path_, "deflated entry '" + name + "' claims " + sizes);
  } else {
    fail(path_, "entry '" + name + "' uses compression method " + std::to_string(st.comp_method) +
                    " (only stored and deflated entries are read)");
  }
  return st.size;
}

void ZipArchive::read(const std::string& name, void* out, uint64_t nbytes) const {
  const uint64_t expected = size(name);
  if (nbytes != expected)
    fail(path_, "entry '" + name + "' holds " + std::to_string(expected) + " bytes, " + std::to_string(nbytes) + " were expected");
  zip_file_t* f = zip_fopen_index(handle(zip_), static_cast<zip_uint64_t>(index_of(name)), 0);
  if (f == nullptr) fail(path_, "cannot open entry '" + name + "': " + zip_strerror(handle(zip_)));
  std::string error;
  uint64_t done = 0;
  char* dst = static_cast<char*>(out);
  while (done < nbytes && error.empty()) {
    const zip_int64_t got = zip_fread(f, dst + done, nbytes - done);
    if (got < 0)
      error = zip_file_strerror(f);
    else if (got == 0)
      error = "ends after " + std::to_string(done) + " of " + std::to_string(nbytes) + " bytes";
    else
      done += static_cast<uint64_t>(got);
  }
  // libzip checks the CRC when the entry's end is read, so ask for one byte past it.
  char past_end;
  if (error.empty()) {
    const zip_int64_t got = zip_fread(f, &past_end, 1);
    if (got < 0) error = zip_file_strerror(f);
    if (got > 0) error = "holds more bytes than its header says";
  }
  zip_fclose(f);
  if (!error.empty()) fail(path_, "entry '" + name + "': " + error);
}

std::string ZipArchive::read_string(const std::string& name) const {
  std::string s(size(name), '\0');
  read(name, s.data(), s.size());
  return s;
}

}  // namespace emrrg
