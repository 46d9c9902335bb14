#include "train/encoder_pretraining.h"

#include <filesystem>
#include <ostream>
#include <stdexcept>

#include "ops/ops.h"
#include "runtime/safetensors.h"
#include "train/config/toml_document.h"
#include "train/data/chexpert.h"
#include "train/data/loader.h"
#include "train/emrrg_trainable.h"
#include "train/trainer.h"

namespace emrrg::train {
namespace {

models::VisionMambaConfig with_label_head(models::VisionMambaConfig vision) {
  vision.num_classes = data::kNumChexpertLabels;
  vision.peft = {};
  vision.peft.full_finetune = true;
  return vision;
}

}  // namespace

bool has_pretrain(const toml::table& document) { return document.contains("pretrain"); }

PretrainConfig read_pretrain_config(const toml::table& doc, const std::string& source) {
  PretrainConfig c;
  config::TableReader r(doc, "pretrain", source);
  r.integer("max_steps", c.max_steps, 1);
  r.integer("batch_size", c.batch_size, 1);
  r.number("lr", c.lr, 0);
  r.integer("warmup_steps", c.warmup_steps, 0);
  r.reject_unknown();
  return c;
}

EncoderClassifier::EncoderClassifier(models::VisionMambaConfig vision, uint64_t seed, Device device)
    : init_(seed), encoder_(std::make_shared<models::VisionMamba>(with_label_head(std::move(vision)), init_)) {
  encoder_->to(device);
}

Tensor EncoderClassifier::logits(const Tensor& images) const {
  const int64_t B = images.size(0), V = images.size(1);
  const Tensor tokens = encoder_->forward(reshape(images, {B * V, images.size(2), images.size(3), images.size(4)}));
  // the views' token-wise mean, as EMRRG takes it
  return encoder_->classify(mean(reshape(tokens, {B, V, tokens.size(1), tokens.size(2)}), {1}));
}

Tensor EncoderClassifier::loss(const data::Batch& batch) {
  if (!batch.labels.defined())
    throw std::runtime_error("encoder pre-training: the studies have no labels (the annotation's 'labels')");
  const Device device = encoder_->patch_embed->proj->weight.device();
  const Tensor x = cast(logits(to_device(batch.images, device)), DType::Float32);         // [B, 14]
  const Tensor y = to_device(to_contiguous(convert(batch.labels, DType::Float32)), device);  // [B, 14]
  // binary cross-entropy with logits: softplus(x) - y x
  return mean(sub(softplus(x), mul(y, x)));
}

std::vector<TrainedParameter> EncoderClassifier::trained_parameters() {
  std::vector<TrainedParameter> out;
  for (auto& [name, t] : encoder_->named_parameters())
    if (t.requires_grad()) out.push_back({name, t, takes_weight_decay(name)});
  return out;
}

void EncoderClassifier::save_encoder(const std::string& path) const {
  std::map<std::string, Tensor> weights;
  for (const auto& [name, t] : encoder_->state_dict())
    if (name.rfind("head.", 0) != 0) weights.emplace(name, t);
  const std::string partial = path + ".partial";
  save_safetensors(partial, weights);
  std::filesystem::rename(partial, path);
}

std::string pretrain_encoder(const models::VisionMambaConfig& vision, const PretrainConfig& c,
                             const data::ReportDataset& train_set, int num_workers, uint64_t seed,
                             const std::string& dir, Device device, std::ostream& log, distributed::Communicator* comm) {
  const std::string path = (std::filesystem::path(dir) / "encoder.safetensors").string();
  const bool leader = !comm || comm->rank() == 0;
  // Rank 0's view of the folder decides for all: ranks must not see it at different moments.
  bool encoder_exists = leader && std::filesystem::exists(path);
  if (comm) encoder_exists = comm->broadcast_value(encoder_exists ? 1 : 0, 0) != 0;
  if (encoder_exists) {
    log << "pretrain: using the stage-1 encoder " << path << "\n";
    return path;
  }
  // A stage 1 cut short left checkpoints but no encoder: it starts again.
  if (leader) {
    std::filesystem::remove_all(std::filesystem::path(dir) / "checkpoints");
    std::filesystem::remove(std::filesystem::path(dir) / "log.jsonl");
  }
  if (comm) comm->barrier();
  EncoderClassifier model(vision, seed, device);
  data::LoaderConfig l;
  l.batch_size = c.batch_size;
  l.seed = seed;
  l.num_workers = num_workers;
  if (comm) {
    l.rank = comm->rank();
    l.world_size = comm->world_size();
  }
  data::DataLoader loader(train_set, l);
  LoaderSource source(loader);
  TrainerOptions o;
  o.epochs = 0;
  o.max_steps = c.max_steps;
  o.lr = c.lr;
  o.lr_min = c.lr / 10;
  o.warmup_steps = c.warmup_steps;
  o.checkpoint_every = c.max_steps;
  o.keep_checkpoints = 1;
  o.out_dir = dir;
  o.log_every = 10;
  o.tensorboard = false;
  o.precision = c.precision;
  o.communicator = comm;
  o.device_memory_mb = device_memory_reporter(device);
  log << "pretrain: the encoder with a " << data::kNumChexpertLabels << "-label head on " << train_set.size()
      << " training studies on " << device.str() << ", " << c.max_steps << " steps";
  if (comm) log << ", data parallel over " << comm->world_size() << " ranks";
  log << "\n";
  Trainer trainer(model, source, o, {}, &log);
  trainer.fit();
  if (leader) {
    model.save_encoder(path);
    log << "pretrain: wrote " << path << "\n";
  }
  if (comm) comm->barrier();
  return path;
}

}  // namespace emrrg::train
