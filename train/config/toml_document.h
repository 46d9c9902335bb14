// The TOML config document: parsed once, then `--set section.key=value` overrides are applied
// to the document itself, before any table is read, so an override reaches every table (ours
// and the [vision], [llm], [model] tables other readers parse) and goes through the same type
// and unknown-key checks as the file.
#pragma once
#include <toml++/toml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace emrrg::config {

// Parses `path` (errors name the file, line and column) and applies the overrides in order.
toml::table load_document(const std::string& path, const std::vector<std::string>& overrides = {});
// `assignment` is "a.b.c=value". The value is read as a TOML value (42, 1e-4, true, "text",
// [0, 8]); anything that is not one is taken as a bare string (--set data.dataset=demo). A
// value that replaces a string stays a string (--set train.out_dir=2024). Missing tables on the
// path are created; a path through a non-table is an error naming it.
void apply_override(toml::table& document, const std::string& assignment);

// Reads one table with strict checks: every key must be claimed by a field reader, and each
// reader checks its value's type. Errors look like
//   config 'iu.toml' line 7: [train] lr must be a number, got a string
class TableReader {
 public:
  TableReader(const toml::table& root, std::string table, std::string source);
  bool present() const { return table_ != nullptr; }

  void integer(const std::string& key, int64_t& out, int64_t min = INT64_MIN);
  void integer(const std::string& key, int& out, int64_t min = INT64_MIN);
  void number(const std::string& key, double& out, double min = -1e308);
  void boolean(const std::string& key, bool& out);
  void string(const std::string& key, std::string& out);
  // An array of strings (["a", "b"]); the error names the first element that is not one.
  void strings(const std::string& key, std::vector<std::string>& out);
  // A string from a fixed set; the error lists the choices.
  void choice(const std::string& key, std::string& out, const std::vector<std::string>& choices);
  // Throws for any key no reader above asked for (call last).
  void reject_unknown() const;
  [[noreturn]] void fail(const std::string& key, const std::string& what) const;

 private:
  const toml::node* find(const std::string& key);
  const toml::table* table_ = nullptr;
  std::string name_;
  std::string source_;
  std::vector<std::string> claimed_;
};

// Throws for a top-level key that is not one of `tables` (a misspelt [trian] table).
void reject_unknown_tables(const toml::table& root, const std::vector<std::string>& tables, const std::string& source);

}  // namespace emrrg::config
