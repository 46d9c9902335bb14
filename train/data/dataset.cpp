#include "train/data/dataset.h"

#include <filesystem>

#include "train/data/image_io.h"

namespace emrrg::data {

namespace fs = std::filesystem;

ReportDataset::ReportDataset(const DatasetConfig& config, std::shared_ptr<const Tokenizer> tokenizer)
    : config_(config), tokenizer_(std::move(tokenizer)), transform_(config.image) {
  if (!tokenizer_) throw std::invalid_argument("ReportDataset: no tokenizer");
  if (config_.max_length < 1) throw std::invalid_argument("max_length must be at least 1, got " + std::to_string(config_.max_length));
  if (config_.views < 0 || config_.views > 16) throw std::invalid_argument("views must be in 0..16, got " + std::to_string(config_.views));
  if (config_.pad_id < 0 || config_.pad_id >= tokenizer_->vocab_size())
    throw std::invalid_argument("pad id " + std::to_string(config_.pad_id) + " is outside the vocabulary");
  if (tokenizer_->eos_id() < 0) throw std::invalid_argument("the tokenizer has no EOS id");
  image_dir_ = config_.image_dir.empty() ? (fs::path(config_.annotation_path).parent_path() / "images").string()
                                         : config_.image_dir;

  AnnotationOptions options;
  options.skip_bad = config_.skip_bad;
  options.lenient_split_names = config_.lenient_split_names;
  AnnotationSplit split = load_annotation_split(config_.annotation_path, config_.split, options);
  skipped_ = std::move(split.problems);

  views_ = config_.views;
  if (views_ == 0 && !split.entries.empty()) views_ = static_cast<int>(split.entries.front().image_paths.size());
  if (views_ == 0) views_ = 1;
  entries_.reserve(split.entries.size());
  for (auto& e : split.entries) {
    if (static_cast<int>(e.image_paths.size()) < views_) {
      const std::string message = "annotation file '" + config_.annotation_path + "', split \"" + config_.split +
                                  "\": entry #" + std::to_string(e.index) + " (id '" + e.id + "') has " +
                                  std::to_string(e.image_paths.size()) + " image path(s), the dataset uses " +
                                  std::to_string(views_) + " view(s)";
      if (!config_.skip_bad) throw AnnotationError(message);
      skipped_.push_back(message);
      continue;
    }
    e.image_paths.resize(views_);
    std::string text = clean_report(config_.cleaning, e.report);
    std::vector<int> ids = tokenizer_->encode(text);
    ids.push_back(tokenizer_->eos_id());
    if (ids.size() > static_cast<size_t>(config_.max_length)) ids.resize(config_.max_length);
    clean_.push_back(std::move(text));
    tokens_.push_back(std::move(ids));
    entries_.push_back(std::move(e));
  }
}

std::string ReportDataset::image_path(size_t i, int v) const {
  const auto& e = entries_.at(i);
  if (v < 0 || v >= views_) throw std::out_of_range("view " + std::to_string(v) + " out of range");
  return (fs::path(image_dir_) / e.image_paths[v]).string();
}

void ReportDataset::load_images(size_t i, float* out) const {
  const auto& e = entries_.at(i);
  for (int v = 0; v < views_; ++v) {
    const std::string path = image_path(i, v);
    try {
      const Image img = read_image(path);
      transform_.apply(img, out + static_cast<size_t>(v) * transform_.output_size());
    } catch (const std::exception& ex) {
      throw SampleError("sample '" + e.id + "' (split \"" + config_.split + "\", entry #" + std::to_string(e.index) +
                        "), view " + std::to_string(v) + ": " + ex.what());
    }
  }
}

void ReportDataset::report_tensors(size_t i, int64_t* ids, float* mask) const {
  const auto& t = tokens_.at(i);
  for (int k = 0; k < config_.max_length; ++k) {
    const bool real = k < static_cast<int>(t.size());
    ids[k] = real ? t[k] : config_.pad_id;
    mask[k] = real ? 1.0f : 0.0f;
  }
}

}  // namespace emrrg::data
