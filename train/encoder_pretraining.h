// Stage 1 of the demo's recipe (issue 11 item 7, the paper's in miniature): the vision encoder is
// first pre-trained on the training images with a 14-label CheXpert head (multi-label binary
// cross-entropy against the studies' labels), as MambaXray-VL's backbone is pre-trained before
// EMRRG fine-tunes it; stage 2 then trains EMRRG on top of it with Partial LoRA and the hybrid
// layers. A config asks for it with a [pretrain] table:
//
//   [pretrain]
//   max_steps = 300      # optimiser steps (AdamW, warm-up + cosine to lr / 10)
//   batch_size = 16      # studies per step
//   lr = 1e-3
//   warmup_steps = 20
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <toml++/toml.h>

#include "models/vision_mamba/vision_mamba.h"
#include "train/distributed/communicator.h"
#include "train/data/dataset.h"
#include "train/trainable.h"

namespace emrrg::train {

struct PretrainConfig {
  int64_t max_steps = 300;
  int batch_size = 16;
  double lr = 1e-3;
  int64_t warmup_steps = 20;
  std::string precision = "fp32";  // not a [pretrain] key: the run's [train] precision, which stage 1 follows
};

// Whether the document has a [pretrain] table, and its values.
bool has_pretrain(const toml::table& document);
PretrainConfig read_pretrain_config(const toml::table& document, const std::string& source);

// The encoder with a classification head over the views' mean tokens (the class token), trained
// whole.
class EncoderClassifier : public Trainable {
 public:
  // `vision` without adapters; its num_classes is set to the 14 CheXpert labels. Drawn from `seed`
  // on the host, then moved to `device`.
  EncoderClassifier(models::VisionMambaConfig vision, uint64_t seed, Device device = Device::cpu());
  // images [B, views, 3, S, S], labels [B, 14] (on the host; copied to the model's device) -> mean
  // binary cross-entropy over studies and labels.
  Tensor loss(const data::Batch& batch) override;
  // [B, 14] logits of images on the model's device.
  Tensor logits(const Tensor& images) const;
  std::vector<TrainedParameter> trained_parameters() override;
  // No reports: stage 1 is not validated by generation.
  std::vector<std::string> generate(const data::Batch& batch, const GenerateConfig&) override {
    return std::vector<std::string>(batch.size());
  }
  void set_training(bool on) override { encoder_->train(on); }
  // The encoder's weights without the head, under the names Emrrg::load_backbone reads.
  void save_encoder(const std::string& path) const;

 private:
  Generator init_;
  std::shared_ptr<models::VisionMamba> encoder_;
};

// Runs stage 1 into `dir` (the Trainer's run folder: log, checkpoint) on `train_set` unless
// `dir`/encoder.safetensors exists already (a stage 1 cut short starts again); returns that
// file's path. The classifier trains on `device`. With a communicator, stage 1 is data parallel
// like stage 2 (each rank trains on its shard, `batch_size` studies per rank and step); rank 0
// decides whether to run it, clears and writes the folder, and every rank returns once the
// encoder is written.
std::string pretrain_encoder(const models::VisionMambaConfig& vision, const PretrainConfig& config,
                             const data::ReportDataset& train_set, int num_workers, uint64_t seed,
                             const std::string& dir, Device device, std::ostream& log,
                             distributed::Communicator* communicator = nullptr);

}  // namespace emrrg::train
