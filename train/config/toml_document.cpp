#include "train/config/toml_document.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace emrrg::config {

namespace {

std::string type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number with a fraction";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    default:
      return "a date or time";
  }
}

std::string line_of(const toml::node& node) {
  return node.source().begin.line > 0 ? " line " + std::to_string(node.source().begin.line) : "";
}

std::vector<std::string> split_path(const std::string& path, const std::string& assignment) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(path);
  while (std::getline(in, part, '.')) {
    if (part.empty())
      throw std::invalid_argument("--set '" + assignment + "': empty name in the key path '" + path + "'");
    parts.push_back(part);
  }
  if (parts.size() < 2)
    throw std::invalid_argument("--set '" + assignment + "': the key must name its table, as section.key=value");
  return parts;
}

}  // namespace

toml::table load_document(const std::string& path, const std::vector<std::string>& overrides) {
  toml::table doc;
  try {
    doc = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << "config '" << path << "' line " << e.source().begin.line << " column " << e.source().begin.column << ": "
        << e.description();
    throw std::runtime_error(msg.str());
  }
  for (const std::string& o : overrides) apply_override(doc, o);
  return doc;
}

void apply_override(toml::table& document, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos) throw std::invalid_argument("--set '" + assignment + "': expected section.key=value");
  const std::vector<std::string> path = split_path(assignment.substr(0, eq), assignment);
  const std::string text = assignment.substr(eq + 1);

  toml::table* table = &document;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    toml::node* child = table->get(path[i]);
    if (!child) {
      table->insert(path[i], toml::table{});
      child = table->get(path[i]);
    }
    if (!child->is_table())
      throw std::invalid_argument("--set '" + assignment + "': '" + path[i] + "' is " + type_name(*child) +
                                  ", not a table");
    table = child->as_table();
  }
  const std::string& key = path.back();
  const toml::node* existing = table->get(key);
  // A TOML value if it is one (a one-line document `v = <text>`), else the text as a string.
  toml::table parsed;
  bool is_value = true;
  try {
    parsed = toml::parse("v = " + text);
  } catch (const toml::parse_error&) {
    is_value = false;
  }
  if (is_value && !(existing && existing->is_string() && !parsed.get("v")->is_string()))
    table->insert_or_assign(key, *parsed.get("v"));
  else
    table->insert_or_assign(key, text);
}

TableReader::TableReader(const toml::table& root, std::string table, std::string source)
    : name_(std::move(table)), source_(std::move(source)) {
  if (const toml::node* node = root.get(name_)) {
    if (!node->is_table())
      throw std::runtime_error("config '" + source_ + "'" + line_of(*node) + ": " + name_ + " must be a table, got " +
                               type_name(*node));
    table_ = node->as_table();
  }
}

const toml::node* TableReader::find(const std::string& key) {
  claimed_.push_back(key);
  return table_ ? table_->get(key) : nullptr;
}

void TableReader::fail(const std::string& key, const std::string& what) const {
  const toml::node* node = table_ ? table_->get(key) : nullptr;
  throw std::runtime_error("config '" + source_ + "'" + (node ? line_of(*node) : "") + ": [" + name_ + "] " + key +
                           " " + what);
}

void TableReader::integer(const std::string& key, int64_t& out, int64_t min) {
  const toml::node* n = find(key);
  if (!n) return;
  if (!n->is_integer()) fail(key, "must be an integer, got " + type_name(*n));
  const int64_t v = n->as_integer()->get();
  if (v < min) fail(key, "must be >= " + std::to_string(min) + ", got " + std::to_string(v));
  out = v;
}

void TableReader::integer(const std::string& key, int& out, int64_t min) {
  int64_t v = out;
  integer(key, v, min);
  if (v > INT32_MAX) fail(key, "is too large (" + std::to_string(v) + ")");
  out = static_cast<int>(v);
}

void TableReader::number(const std::string& key, double& out, double min) {
  const toml::node* n = find(key);
  if (!n) return;
  double v;
  if (n->is_integer())
    v = static_cast<double>(n->as_integer()->get());
  else if (n->is_floating_point())
    v = n->as_floating_point()->get();
  else
    fail(key, "must be a number, got " + type_name(*n));
  if (!(v >= min)) fail(key, "must be >= " + std::to_string(min) + ", got " + std::to_string(v));
  out = v;
}

void TableReader::boolean(const std::string& key, bool& out) {
  const toml::node* n = find(key);
  if (!n) return;
  if (!n->is_boolean()) fail(key, "must be true or false, got " + type_name(*n));
  out = n->as_boolean()->get();
}

void TableReader::string(const std::string& key, std::string& out) {
  const toml::node* n = find(key);
  if (!n) return;
  if (!n->is_string()) fail(key, "must be a string, got " + type_name(*n));
  out = n->as_string()->get();
}

void TableReader::strings(const std::string& key, std::vector<std::string>& out) {
  const toml::node* n = find(key);
  if (!n) return;
  const toml::array* array = n->as_array();
  if (!array) fail(key, "must be an array of strings, got " + type_name(*n));
  std::vector<std::string> values;
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    if (!element.is_string())
      fail(key, "must be an array of strings, element " + std::to_string(i) + " is " + type_name(element));
    values.push_back(element.as_string()->get());
  }
  out = std::move(values);
}

void TableReader::choice(const std::string& key, std::string& out, const std::vector<std::string>& choices) {
  std::string v = out;
  string(key, v);
  if (std::find(choices.begin(), choices.end(), v) == choices.end()) {
    std::string list;
    for (const std::string& c : choices) list += (list.empty() ? "\"" : ", \"") + c + "\"";
    fail(key, "must be one of " + list + ", got \"" + v + "\"");
  }
  out = v;
}

void TableReader::reject_unknown() const {
  if (!table_) return;
  for (auto&& [k, node] : *table_) {
    const std::string key(k.str());
    if (std::find(claimed_.begin(), claimed_.end(), key) == claimed_.end()) {
      std::string known;
      for (const std::string& c : claimed_) known += (known.empty() ? "" : ", ") + c;
      throw std::runtime_error("config '" + source_ + "'" + line_of(node) + ": [" + name_ + "] unknown key '" + key +
                               "' (known: " + known + ")");
    }
  }
}

void reject_unknown_tables(const toml::table& root, const std::vector<std::string>& tables, const std::string& source) {
  for (auto&& [k, node] : root) {
    const std::string key(k.str());
    if (std::find(tables.begin(), tables.end(), key) == tables.end()) {
      std::string known;
      for (const std::string& t : tables) known += (known.empty() ? "[" : ", [") + t + "]";
      throw std::runtime_error("config '" + source + "'" + line_of(node) + ": unknown table or key '" + key +
                               "' (known: " + known + ")");
    }
  }
}

}  // namespace emrrg::config
