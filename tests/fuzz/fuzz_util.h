// What the fuzz targets share. A target feeds one reader arbitrary bytes; an exception derived
// from std::exception is the reader refusing them, anything else (a crash, a sanitizer report,
// an abort, a leak, a hang, an error that does not name its file) is a finding.
#pragma once
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "runtime/tensor.h"

namespace emrrg::fuzz {

// A folder of this process's own under $TMPDIR (or /tmp), made on first use and removed at exit.
const std::string& temp_dir();

// Writes the input to temp_dir()/name (replacing it) and returns the path, for readers that
// take a path.
std::string write_temp_file(const uint8_t* data, size_t size, const std::string& name);

// A file of tests/fixtures, for targets that need a valid companion file.
std::string fixture_path(const std::string& relative);

// The reader refused the input: its message must say which file (or name) it was about.
// Aborts, so the fuzzer keeps the input, when the message does not mention `name`.
void expect_names(const std::exception& e, std::string_view name);

// Reads every element of `t` (through a contiguous copy), so a view past its storage shows.
void touch(const Tensor& t);

}  // namespace emrrg::fuzz
