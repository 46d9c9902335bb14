// Crash-safe file updates: content goes to a temporary name in the same directory, is fsynced,
// renamed over the target, and the directory is fsynced, so after a kill or power loss at any
// moment a reader finds either the old file or the new one, never a mix.
#pragma once
#include <string>
#include <string_view>

namespace emrrg::train {

// Flushes a written file's data to the disk (throws naming the path).
void fsync_path(const std::string& path);
// Flushes a directory's entries (the names created, renamed or removed in it).
void fsync_directory(const std::string& dir);
// Writes `content` to `path` atomically as described above.
void write_file_atomic(const std::string& path, std::string_view content);
// Renames `from` to `to` (files or directories on one file system) and fsyncs the parent
// directory of `to`.
void rename_durably(const std::string& from, const std::string& to);
// The whole file as a string; throws naming the path when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace emrrg::train
