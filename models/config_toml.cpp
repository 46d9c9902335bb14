#include "models/config_toml.h"

#include <stdexcept>

namespace emrrg::models::config_toml {

void Place::fail(const std::string& what) const {
  std::string line;
  if (node.source().begin.line > 0) line = " line " + std::to_string(node.source().begin.line);
  throw std::runtime_error("config '" + source + "'" + line + ": [" + table + "] " + key + " " + what);
}

std::string Place::type_name() const {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number with a fraction";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    default: return "a date or time";
  }
}

int64_t Place::integer() const {
  if (!node.is_integer()) fail("must be an integer, got " + type_name());
  return node.as_integer()->get();
}

double Place::number() const {
  if (node.is_integer()) return static_cast<double>(node.as_integer()->get());
  if (!node.is_floating_point()) fail("must be a number, got " + type_name());
  return node.as_floating_point()->get();
}

bool Place::boolean() const {
  if (!node.is_boolean()) fail("must be true or false, got " + type_name());
  return node.as_boolean()->get();
}

std::string Place::string() const {
  if (!node.is_string()) fail("must be a string, got " + type_name());
  return node.as_string()->get();
}

DType Place::dtype() const {
  const std::string name = string();
  if (name != "float32" && name != "bfloat16" && name != "float16" && name != "float64")
    fail("'" + name + "' is not float32, bfloat16, float16 or float64");
  return dtype_from_name(name);
}

std::vector<int64_t> Place::integers() const {
  if (!node.is_array()) fail("must be an array of integers, got " + type_name());
  std::vector<int64_t> out;
  for (const toml::node& item : *node.as_array()) {
    if (!item.is_integer()) fail("must be an array of integers, item " + std::to_string(out.size()) + " is not one");
    out.push_back(item.as_integer()->get());
  }
  return out;
}

std::vector<std::string> Place::strings() const {
  if (!node.is_array()) fail("must be an array of strings, got " + type_name());
  std::vector<std::string> out;
  for (const toml::node& item : *node.as_array()) {
    if (!item.is_string()) fail("must be an array of strings, item " + std::to_string(out.size()) + " is not one");
    out.push_back(item.as_string()->get());
  }
  return out;
}

toml::table parse_file(const std::string& path) {
  try {
    return toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw std::runtime_error("config '" + path + "' line " + std::to_string(e.source().begin.line) + ": " +
                             std::string(e.description()));
  }
}

}  // namespace emrrg::models::config_toml
