#include "train/data/annotation.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace emrrg::data {

namespace {

using json = nlohmann::json;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string type_name(const json& v) { return v.type_name(); }

// Reads one entry; returns an error message, or "" on success.
std::string read_entry(const json& e, size_t index, AnnotationEntry& out) {
  out = AnnotationEntry{};
  out.index = index;
  if (!e.is_object()) return "entry #" + std::to_string(index) + " is a " + type_name(e) + ", not an object";
  std::string who = "entry #" + std::to_string(index);
  auto id = e.find("id");
  if (id == e.end()) return who + " has no \"id\"";
  if (id->is_string()) out.id = id->get<std::string>();
  else if (id->is_number_integer()) out.id = std::to_string(id->get<long long>());
  else return who + " has an \"id\" of type " + type_name(*id) + " (expected a string)";
  if (out.id.empty()) return who + " has an empty \"id\"";
  who += " (id '" + out.id + "')";
  auto report = e.find("report");
  if (report == e.end()) return who + " has no \"report\"";
  if (!report->is_string()) return who + " has a \"report\" of type " + type_name(*report) + " (expected a string)";
  out.report = report->get<std::string>();
  auto paths = e.find("image_path");
  if (paths == e.end()) return who + " has no \"image_path\"";
  if (paths->is_string()) return who + " has \"image_path\" as a string; expected a list of paths";
  if (!paths->is_array()) return who + " has an \"image_path\" of type " + type_name(*paths) + " (expected a list)";
  if (paths->empty()) return who + " has an empty \"image_path\" list";
  for (size_t k = 0; k < paths->size(); ++k) {
    const json& p = (*paths)[k];
    if (!p.is_string() || p.get<std::string>().empty())
      return who + " has image_path[" + std::to_string(k) + "] that is not a non-empty string";
    out.image_paths.push_back(p.get<std::string>());
  }
  auto labels = e.find("labels");
  if (labels != e.end()) {
    if (!labels->is_array() || labels->size() != 14)
      return who + " has \"labels\" that is not a list of 14 integers";
    std::array<int, 14> l{};
    for (size_t k = 0; k < 14; ++k) {
      const json& v = (*labels)[k];
      if (!v.is_number_integer() || v.get<long long>() < -1 || v.get<long long>() > 1)
        return who + " has labels[" + std::to_string(k) + "] that is not -1, 0 or 1";
      l[k] = static_cast<int>(v.get<long long>());
    }
    out.labels = l;
  }
  return "";
}

}  // namespace

AnnotationSplit parse_annotation_split(const std::string& text, const std::string& name, const std::string& split,
                                       const AnnotationOptions& options) {
  const std::string where = "annotation file '" + name + "'";
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number too large
    throw AnnotationError(where + " is not valid JSON: " + e.what());
  }
  if (!root.is_object())
    throw AnnotationError(where + ": top level is a " + type_name(root) +
                          ", expected an object with the splits \"train\", \"val\", \"test\"");
  auto it = root.find(split);
  if (it == root.end() && options.lenient_split_names) {
    for (auto k = root.begin(); k != root.end(); ++k)
      if (trim(k.key()) == split) {
        it = k;
        break;
      }
  }
  if (it == root.end()) {
    std::string keys;
    for (auto k = root.begin(); k != root.end(); ++k) keys += (keys.empty() ? "\"" : ", \"") + k.key() + "\"";
    std::string hint;
    for (auto k = root.begin(); k != root.end(); ++k)
      if (trim(k.key()) == split && k.key() != split)
        hint = " (the key \"" + k.key() + "\" differs only by white space; enable lenient split names to accept it)";
    throw AnnotationError(where + " has no split \"" + split + "\"; keys: " + (keys.empty() ? "none" : keys) + hint);
  }
  if (!it->is_array())
    throw AnnotationError(where + ": split \"" + split + "\" is a " + type_name(*it) + ", expected a list of entries");
  AnnotationSplit out;
  out.file = name;
  out.split = split;
  out.entries.reserve(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    AnnotationEntry entry;
    const std::string problem = read_entry((*it)[i], i, entry);
    if (problem.empty()) {
      out.entries.push_back(std::move(entry));
      continue;
    }
    const std::string message = where + ", split \"" + split + "\": " + problem;
    if (!options.skip_bad) throw AnnotationError(message);
    out.problems.push_back(message);
  }
  return out;
}

AnnotationSplit load_annotation_split(const std::string& path, const std::string& split,
                                      const AnnotationOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw AnnotationError("cannot open annotation file '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_annotation_split(ss.str(), path, split, options);
}

}  // namespace emrrg::data
