#include "train/config/run_config.h"

#include "train/config/toml_document.h"
#include "train/selection_formula.h"

namespace emrrg::config {

DataConfig read_data_config(const toml::table& document, const std::string& source) {
  DataConfig c;
  TableReader r(document, "data", source);
  r.string("annotation", c.annotation);
  r.string("image_dir", c.image_dir);
  r.choice("dataset", c.dataset, {"iu_xray", "mimic_cxr", "chexpert_plus", "demo"});
  r.integer("max_length", c.max_length, 2);
  r.integer("num_workers", c.num_workers, 0);
  std::string policy = "error";
  r.choice("on_bad_sample", policy, {"error", "skip"});
  c.skip_bad = policy == "skip";
  r.reject_unknown();
  return c;
}

TrainConfig read_train_config(const toml::table& document, const std::string& source) {
  TrainConfig c;
  train::TrainerOptions& t = c.trainer;
  TableReader r(document, "train", source);
  r.integer("batch_size", c.batch_size, 1);
  r.integer("epochs", t.epochs, 0);
  r.integer("max_steps", t.max_steps, 0);
  r.number("lr", t.lr, 0.0);
  r.number("lr_min", t.lr_min, 0.0);
  r.integer("warmup_steps", t.warmup_steps, 0);
  std::string schedule = t.lr_per_epoch ? "epoch" : "step";
  r.choice("lr_schedule", schedule, {"step", "epoch"});
  t.lr_per_epoch = schedule == "epoch";
  r.number("weight_decay", t.weight_decay, 0.0);
  r.integer("grad_accum", t.grad_accum, 1);
  r.number("clip", t.clip, 0.0);
  int64_t seed = static_cast<int64_t>(c.seed);
  r.integer("seed", seed, 0);
  c.seed = static_cast<uint64_t>(seed);
  r.integer("val_every", t.val_every, 0);
  r.integer("val_per_epoch", t.val_per_epoch, 1);
  r.integer("checkpoint_every", t.checkpoint_every, 0);
  r.integer("keep_checkpoints", t.keep_checkpoints, 1);
  r.string("best_formula", t.best_formula);
  r.string("out_dir", t.out_dir);
  r.integer("log_every", t.log_every, 1);
  r.boolean("tensorboard", t.tensorboard);
  r.reject_unknown();
  if (t.epochs == 0 && t.max_steps == 0) r.fail("epochs", "and max_steps are both 0: set one of them");
  if (t.lr_min > t.lr)
    r.fail("lr_min", "(" + std::to_string(t.lr_min) + ") must not exceed lr (" + std::to_string(t.lr) + ")");
  if (t.out_dir.empty()) r.fail("out_dir", "must not be empty");
  try {
    train::SelectionFormula check(t.best_formula);
  } catch (const std::invalid_argument& e) {
    r.fail("best_formula", std::string("is invalid: ") + e.what());
  }
  return c;
}

train::GenerateConfig read_generate_config(const toml::table& document, const std::string& source) {
  train::GenerateConfig c;
  TableReader r(document, "generate", source);
  r.integer("beams", c.beams, 1);
  r.integer("min_new_tokens", c.min_new_tokens, 0);
  r.integer("max_new_tokens", c.max_new_tokens, 1);
  r.number("repetition_penalty", c.repetition_penalty, 1e-9);
  r.number("length_penalty", c.length_penalty);
  r.reject_unknown();
  if (c.min_new_tokens > c.max_new_tokens)
    r.fail("min_new_tokens", "(" + std::to_string(c.min_new_tokens) + ") must not exceed max_new_tokens (" +
                                 std::to_string(c.max_new_tokens) + ")");
  return c;
}

data::DatasetConfig dataset_config(const DataConfig& d, const std::string& split) {
  data::DatasetConfig c;
  c.annotation_path = d.annotation;
  c.image_dir = d.image_dir;
  c.split = split;
  c.max_length = d.max_length;
  c.skip_bad = d.skip_bad;
  if (d.dataset == "iu_xray" || d.dataset == "demo") {
    c.cleaning = data::ReportCleaning::IuXray;  // the phantom reports follow IU X-ray's style
    c.views = 2;
  } else {
    c.cleaning = data::ReportCleaning::MimicCxrR2GenGPT;  // R2GenGPT / EMRRG clean CheXpert Plus this way too
    c.views = 1;
  }
  return c;
}

}  // namespace emrrg::config
