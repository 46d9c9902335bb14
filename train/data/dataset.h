// A report-generation dataset: one split of an R2Gen-layout annotation.json, its images under a
// base directory, reports cleaned with the dataset's rule and tokenised. Reports are cleaned
// and tokenised once, when the dataset is built; images are decoded on demand (by the loader's
// worker threads).
#pragma once
#include <array>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "train/data/annotation.h"
#include "train/data/image_transform.h"
#include "train/data/report_cleaning_rule.h"
#include "train/data/tokenizer.h"

namespace emrrg::data {

// A sample that cannot be used (missing or undecodable image, ...). The message names the
// sample id, its index, the split and the file.
class SampleError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DatasetConfig {
  std::string annotation_path;
  std::string image_dir;  // base of image_path entries; empty: the annotation's folder + "/images"
  std::string split = "train";
  ReportCleaning cleaning = ReportCleaning::IuXray;
  int views = 0;  // images per study; 0: the first entry's count. Extra paths are ignored.
  int max_length = 60;  // report tokens including EOS (IU 60, MIMIC-CXR / CheXpert Plus 100)
  int pad_id = 0;
  ImageTransformConfig image;
  // false: a malformed entry or image is an error (the default). true: it is skipped and
  // counted (malformed entries when the dataset is built, bad images by the loader).
  bool skip_bad = false;
  bool lenient_split_names = false;  // see AnnotationOptions
};

class ReportDataset {
 public:
  // Reads the annotation and tokenises the reports; throws AnnotationError (file or entry
  // problems) or std::invalid_argument (configuration).
  ReportDataset(const DatasetConfig& config, std::shared_ptr<const Tokenizer> tokenizer);

  size_t size() const { return entries_.size(); }
  const DatasetConfig& config() const { return config_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const ImageTransform& transform() const { return transform_; }
  int views() const { return views_; }
  int image_size() const { return config_.image.size; }
  int max_length() const { return config_.max_length; }
  const std::string& image_dir() const { return image_dir_; }

  const AnnotationEntry& entry(size_t i) const { return entries_.at(i); }
  const std::string& id(size_t i) const { return entries_.at(i).id; }
  // The cleaned report, and its tokens (report ids then EOS, cut at max_length; no padding).
  const std::string& clean_text(size_t i) const { return clean_.at(i); }
  const std::vector<int>& tokens(size_t i) const { return tokens_.at(i); }
  // Entries dropped when the dataset was built (skip_bad), one message each.
  const std::vector<std::string>& skipped_entries() const { return skipped_; }

  // Floats per sample image block: views * 3 * size * size.
  size_t image_floats() const { return static_cast<size_t>(views_) * transform_.output_size(); }
  // Full path of view v of sample i.
  std::string image_path(size_t i, int v) const;
  // Decodes, resizes and normalises the views of sample i into out[views][3][size][size].
  // Throws SampleError naming the sample and file.
  void load_images(size_t i, float* out) const;
  // Writes the padded report ids and the loss mask (1 on report tokens, 0 on padding) of
  // sample i; both max_length long.
  void report_tensors(size_t i, int64_t* ids, float* mask) const;

 private:
  DatasetConfig config_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  ImageTransform transform_;
  std::string image_dir_;
  int views_ = 0;
  std::vector<AnnotationEntry> entries_;
  std::vector<std::string> clean_;
  std::vector<std::vector<int>> tokens_;
  std::vector<std::string> skipped_;
};

}  // namespace emrrg::data
