// Reading report files (one report per line) with clear errors for the CLI and tools.
#pragma once
#include <istream>
#include <string>
#include <vector>

namespace emrrg::metrics {

// Splits text into lines ("\n" or "\r\n"; a final newline does not start an extra line) and
// checks each is valid UTF-8. `source` names the input in errors ("refs.txt", "stdin").
// Throws std::runtime_error: "<source>:<line>: invalid UTF-8 at byte <n> (0xNN)".
std::vector<std::string> split_report_lines(const std::string& text, const std::string& source);

// Reads a whole file as one report per line; throws when it cannot be opened, is empty or
// holds invalid UTF-8.
std::vector<std::string> read_report_file(const std::string& path);

// Reads a stream (stdin) as one report per line; an empty stream gives no lines.
std::vector<std::string> read_report_stream(std::istream& in, const std::string& source);

}  // namespace emrrg::metrics
