#include "train/metrics/report_io.h"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include "train/metrics/utf8.h"

namespace emrrg::metrics {

std::vector<std::string> split_report_lines(const std::string& text, const std::string& source) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    const std::size_t next = end == std::string::npos ? text.size() : end + 1;
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (const auto bad = find_invalid_utf8(line)) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(static_cast<unsigned char>(line[*bad])));
      throw std::runtime_error(source + ":" + std::to_string(lines.size() + 1) + ": invalid UTF-8 at byte " +
                               std::to_string(*bad + 1) + " (" + hex + ")");
    }
    lines.push_back(std::move(line));
    start = next;
  }
  return lines;
}

std::vector<std::string> read_report_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.empty()) throw std::runtime_error(path + " is empty (expected one report per line)");
  return split_report_lines(text, path);
}

std::vector<std::string> read_report_stream(std::istream& in, const std::string& source) {
  std::ostringstream buf;
  buf << in.rdbuf();
  return split_report_lines(buf.str(), source);
}

}  // namespace emrrg::metrics
