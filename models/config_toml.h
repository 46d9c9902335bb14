// Reading TOML config tables into config structs, shared by the [vision] (vision_mamba/) and the
// [llm] / [model] (emrrg/) parsers: typed values whose errors name the file, the line, the table
// and the key; a table read against a map of known keys, any other key being an error.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>
#include <toml++/toml.h>

#include "runtime/dtype.h"

namespace emrrg::models::config_toml {

// Where a value sits, for errors: "config 'f.toml' line 4: [vision] d_model ...".
struct Place {
  const std::string& source;
  std::string table;
  std::string key;
  const toml::node& node;

  [[noreturn]] void fail(const std::string& what) const;
  std::string type_name() const;
  int64_t integer() const;
  double number() const;  // an integer or a float
  bool boolean() const;
  std::string string() const;
  DType dtype() const;  // "float32" | "bfloat16" | "float16" | "float64"
  std::vector<int64_t> integers() const;     // an array of integers
  std::vector<std::string> strings() const;  // an array of strings
};

template <typename Config> using Fields = std::map<std::string, std::function<void(Config&, const Place&)>>;

// Applies `fields` to every key of `table` ([name] in errors); `extra`, when given, sees each key
// first and returns true for those it handled. A key neither handles is an error listing the known keys.
template <typename Config>
void read_table(Config& config, const toml::table& table, const std::string& name, const Fields<Config>& fields,
                const std::string& source, const std::function<bool(const std::string&, const Place&)>& extra = {}) {
  for (auto&& [key, node] : table) {
    const Place place{source, name, std::string(key.str()), node};
    if (extra && extra(place.key, place)) continue;
    auto it = fields.find(place.key);
    if (it == fields.end()) {
      std::string known;
      for (const auto& [k, f] : fields) known += (known.empty() ? "" : ", ") + k;
      place.fail("is not a known key (known: " + known + ")");
    }
    it->second(config, place);
  }
}

// The whole file; a syntax error names the file and the line.
toml::table parse_file(const std::string& path);

}  // namespace emrrg::models::config_toml
