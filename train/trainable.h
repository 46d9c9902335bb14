// What the Trainer needs from a model and from its data. The EMRRG model plugs in by
// implementing Trainable; tests use small models (an MLP, a tiny Llama language model).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "runtime/random.h"
#include "runtime/tensor.h"
#include "train/data/loader.h"

namespace emrrg::train {

struct GenerateConfig {
  int beams = 3;
  int min_new_tokens = 0;
  int max_new_tokens = 100;
  double repetition_penalty = 1.0;
  double length_penalty = 1.0;
};

struct TrainedParameter {
  std::string name;  // the checkpoint name
  Tensor tensor;
  bool weight_decay = true;  // false for norms, biases, A_log, D, ...
};

class Trainable {
 public:
  virtual ~Trainable() = default;
  // The mean training loss of one batch (a scalar that requires grad). Micro-batches of one
  // optimiser step are averaged with equal weights, so accumulation over k equal micro-batches
  // equals one batch k times larger when this is a per-sample mean.
  virtual Tensor loss(const data::Batch& batch) = 0;
  // The parameters AdamW updates, in a fixed order; their values form the checkpoint's weights.
  virtual std::vector<TrainedParameter> trained_parameters() = 0;
  // One report per study of the batch (validation and test).
  virtual std::vector<std::string> generate(const data::Batch& batch, const GenerateConfig& config) = 0;
  // Training mode on (dropout) or off.
  virtual void set_training(bool on) = 0;
  // The random streams the model draws from (dropout, sampling), saved in checkpoints so a
  // resumed run draws the same numbers.
  virtual std::vector<std::pair<std::string, Generator*>> generators() { return {{"default", &default_generator()}}; }
};

// Batches in a deterministic order that depends only on the seed and the epoch.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual size_t batches_per_epoch() const = 0;
  // Starts `epoch` at batch `first_batch` (a resumed run skips what it already trained on).
  virtual void start_epoch(int64_t epoch, size_t first_batch) = 0;
  virtual bool next(data::Batch& batch) = 0;
  // Batches of the epoch consumed so far (delivered or skipped as bad).
  virtual size_t position() const = 0;
};

// The data set's loader as a BatchSource.
class LoaderSource : public BatchSource {
 public:
  explicit LoaderSource(data::DataLoader& loader) : loader_(loader) {}
  size_t batches_per_epoch() const override { return loader_.batches_per_epoch(); }
  void start_epoch(int64_t epoch, size_t first_batch) override { loader_.start_epoch(epoch, first_batch); }
  bool next(data::Batch& batch) override { return loader_.next(batch); }
  size_t position() const override { return loader_.position(); }

 private:
  data::DataLoader& loader_;
};

}  // namespace emrrg::train
