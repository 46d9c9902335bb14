// annotation.json in the R2Gen layout: {"train": [...], "val": [...], "test": [...]}, each
// entry an object with "id", "report" and "image_path" (a list of paths relative to the image
// base directory: IU X-ray two views, MIMIC-CXR one). Other keys (split, study_id,
// subject_id, ...) are tolerated; "labels" (14 integers in CheXpert order, written by the
// phantom data set) is read when present.
#pragma once
#include <array>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace emrrg::data {

// A malformed annotation file or entry. The message names the file, the split, the entry
// (index and id when it has one) and what is wrong.
class AnnotationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct AnnotationEntry {
  std::string id;
  std::string report;  // as stored (not cleaned)
  std::vector<std::string> image_paths;
  std::optional<std::array<int, 14>> labels;
  size_t index = 0;  // position in the split's list
};

struct AnnotationOptions {
  // Skip malformed entries (recording why in `problems`) instead of throwing. Problems with
  // the file itself (unreadable, not JSON, split missing or not a list) always throw.
  bool skip_bad = false;
  // Accept a split key that matches after trimming white space (one public IU copy names the
  // test split "test    "). Off by default: be strict.
  bool lenient_split_names = false;
};

struct AnnotationSplit {
  std::string file;
  std::string split;
  std::vector<AnnotationEntry> entries;
  std::vector<std::string> problems;  // one message per skipped entry
};

// Reads one split of an annotation file.
AnnotationSplit load_annotation_split(const std::string& path, const std::string& split,
                                      const AnnotationOptions& options = {});
// Same, from JSON text already in memory (`name` stands for the file in messages).
AnnotationSplit parse_annotation_split(const std::string& json_text, const std::string& name,
                                       const std::string& split, const AnnotationOptions& options = {});

}  // namespace emrrg::data
