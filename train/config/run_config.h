// The [data], [train] and [generate] tables of a TOML config (docs/CONFIG.md lists every key).
// Each reader takes the whole document, after --set overrides (toml_document.h), so the same
// document also feeds the [vision], [llm] and [model] readers.
#pragma once
#include <toml++/toml.h>

#include <cstdint>
#include <string>

#include "train/data/dataset.h"
#include "train/trainable.h"
#include "train/trainer.h"

namespace emrrg::config {

struct DataConfig {
  std::string annotation;           // R2Gen-layout annotation.json
  std::string image_dir;            // empty: the annotation's folder + "/images"
  std::string dataset = "iu_xray";  // "iu_xray" | "mimic_cxr" | "chexpert_plus" | "demo"
  int max_length = 60;              // report tokens including EOS
  int num_workers = 2;              // image decoding threads
  bool skip_bad = false;            // on_bad_sample = "skip": drop and count bad samples instead of failing
};

struct TrainConfig {
  int batch_size = 4;  // per micro-batch
  uint64_t seed = 42;
  train::TrainerOptions trainer;
};

DataConfig read_data_config(const toml::table& document, const std::string& source);
TrainConfig read_train_config(const toml::table& document, const std::string& source);
train::GenerateConfig read_generate_config(const toml::table& document, const std::string& source);

// The data set's loading settings for one split: cleaning rule and views from `dataset`.
data::DatasetConfig dataset_config(const DataConfig& data, const std::string& split);

}  // namespace emrrg::config
