#include "train/trainer.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "autograd/tape.h"
#include "ops/ops.h"
#include "train/atomic_file.h"
#include "train/distributed/communicator.h"
#include "train/distributed/gradient_buckets.h"
#include "train/distributed/sharded_adamw.h"
#include "train/grad_clip.h"
#include "train/metrics_table.h"
#include "train/selection_formula.h"
#include "train/tensorboard.h"

namespace emrrg::train {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kJsonl = "log.jsonl";
constexpr const char* kBestJson = "best.json";

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(seconds + 0.5);
  char text[32];
  if (s >= 3600)
    std::snprintf(text, sizeof(text), "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  else
    std::snprintf(text, sizeof(text), "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  return text;
}

// Report tokens and images of a batch, for throughput.
std::pair<double, double> batch_tokens_images(const data::Batch& b) {
  double tokens = 0, images = 0;
  if (b.report_mask.defined()) tokens = sum(b.report_mask).item();
  if (b.images.defined() && b.images.dim() >= 4)
    images = static_cast<double>(b.images.numel() / (b.images.size(-1) * b.images.size(-2) * b.images.size(-3)));
  return {tokens, images};
}

}  // namespace

// The run's outputs: JSONL (every step and validation), TensorBoard, the progress line.
struct Trainer::Logs {
  std::ofstream jsonl;
  std::unique_ptr<TensorBoardWriter> tensorboard;
  Clock::time_point start = Clock::now();
  int64_t first_step = 0;  // state_.step when this process started
  Clock::time_point window_start = Clock::now();
  double window_tokens = 0, window_images = 0;  // since the last progress line

  void write(const nlohmann::json& j) {
    if (!jsonl.is_open()) return;  // a data-parallel rank other than 0
    jsonl << j.dump() << "\n";
    jsonl.flush();
  }
};

Trainer::Trainer(Trainable& model, BatchSource& data, const TrainerOptions& options, Validator validator,
                 std::ostream* log)
    : model_(model), data_(data), options_(options), validator_(std::move(validator)), log_(log) {
  if (options_.zero_stage != 0 && options_.zero_stage != 1)
    throw std::invalid_argument("trainer: zero stage must be 0 or 1, got " + std::to_string(options_.zero_stage));
  if (options_.zero_stage == 1 && !options_.communicator)
    throw std::invalid_argument("trainer: zero 1 shards over data-parallel ranks and needs a communicator");
  if (!main_rank()) log_ = nullptr;  // rank 0 speaks for the job
  if (options_.grad_accum < 1)
    throw std::invalid_argument("trainer: grad_accum must be >= 1, got " + std::to_string(options_.grad_accum));
  if (options_.epochs < 0 || options_.max_steps < 0)
    throw std::invalid_argument("trainer: epochs and max_steps must be >= 0");
  if (options_.epochs == 0 && options_.max_steps == 0) throw std::invalid_argument("trainer: set epochs or max_steps");
  if (options_.val_every < 0 || options_.val_per_epoch < 0 || options_.checkpoint_every < 0 || options_.keep_checkpoints < 1 ||
      options_.log_every < 1)
    throw std::invalid_argument(
        "trainer: val_every, val_per_epoch and checkpoint_every must be >= 0, keep_checkpoints and log_every >= 1");
  SelectionFormula check(options_.best_formula);  // a bad formula fails now, not after an epoch
  const size_t bpe = data_.batches_per_epoch();
  if (bpe == 0) throw std::invalid_argument("trainer: the training data has no batches");
  steps_per_epoch_ = static_cast<int64_t>((bpe + static_cast<size_t>(options_.grad_accum) - 1) /
                                          static_cast<size_t>(options_.grad_accum));
  total_steps_ = options_.epochs * steps_per_epoch_;
  if (options_.max_steps > 0)
    total_steps_ = options_.epochs > 0 ? std::min(total_steps_, options_.max_steps) : options_.max_steps;
  schedule_ = {options_.lr,
               options_.lr_min,
               options_.warmup_steps,
               total_steps_,
               options_.lr_per_epoch,
               options_.epochs > 0 ? options_.epochs : (total_steps_ + steps_per_epoch_ - 1) / steps_per_epoch_};

  // AdamW's moments are in group order: decayed parameters first, then the others.
  std::vector<TrainedParameter> all = model_.trained_parameters();
  std::set<std::string> names;
  std::vector<Tensor> decayed, plain;
  for (const TrainedParameter& p : all) {
    if (!names.insert(p.name).second)
      throw std::invalid_argument("trainer: trained parameter '" + p.name + "' is listed twice");
    if (p.weight_decay) {
      decayed.push_back(p.tensor);
      params_.push_back(p);
    }
  }
  for (const TrainedParameter& p : all)
    if (!p.weight_decay) {
      plain.push_back(p.tensor);
      params_.push_back(p);
    }
  if (params_.empty()) throw std::invalid_argument("trainer: the model has no trained parameters");
  if (options_.precision != "fp32" && options_.precision != "bf16")
    throw std::invalid_argument("trainer: precision '" + options_.precision + "' is not \"fp32\" or \"bf16\"");
  const AdamWOptions adamw{options_.lr,           options_.beta1,        options_.beta2,
                           options_.eps,          options_.weight_decay, options_.precision == "bf16"};
  if (distributed::Communicator* comm = options_.communicator) {
    // Every rank starts from rank 0's weights, whatever its initialisation drew.
    std::vector<Tensor> tensors;
    for (TrainedParameter& p : params_) {
      comm->broadcast(p.tensor, 0);
      tensors.push_back(p.tensor);
    }
    buckets_ = std::make_unique<distributed::GradientBuckets>(*comm, tensors, options_.bucket_bytes);
    if (options_.zero_stage == 1) {
      if (adamw.master_weights)
        throw std::invalid_argument("trainer: precision \"bf16\" (float32 master weights) with ZeRO-1 is not supported yet");
      sharded_ = std::make_unique<distributed::ShardedAdamW>(*comm, params_, adamw);
      return;
    }
  }
  optimizer_ = std::make_unique<AdamW>(decayed, adamw);
  if (!plain.empty()) optimizer_->add_param_group(plain, 0.0);
}

std::function<double()> device_memory_reporter(Device device) {
  if (device.is_cpu()) return {};
  return [device] { return static_cast<double>(device_backend(device.type).peak_allocated_bytes(device)) / (1 << 20); };
}

bool Trainer::main_rank() const { return !options_.communicator || options_.communicator->rank() == 0; }

int Trainer::world_size() const { return options_.communicator ? options_.communicator->world_size() : 1; }

void Trainer::average_over_ranks(double& loss_sum, double& tokens, double& images, int64_t& micro) {
  buckets_->average();
  Tensor sums = to_device(from_vector(std::vector<double>{loss_sum, tokens, images, static_cast<double>(micro)}, {4}),
                          options_.communicator->device());
  options_.communicator->all_reduce(sums, distributed::ReduceOp::Sum);
  const std::vector<double> s = sums.to_vector<double>();
  loss_sum = s[0];
  tokens = s[1];
  images = s[2];
  micro = static_cast<int64_t>(s[3]);
}

void Trainer::optimizer_step(double lr) {
  if (sharded_) {
    sharded_->step(lr);
    return;
  }
  optimizer_->set_lr(lr);
  optimizer_->step();
}

Trainer::~Trainer() = default;

std::string Trainer::checkpoints_dir() const { return (fs::path(options_.out_dir) / "checkpoints").string(); }

bool Trainer::resume(const std::string& run_dir) {
  options_.out_dir = run_dir;
  resumed_ = true;
  const std::string dir = checkpoints_dir();
  if (main_rank()) remove_incomplete_checkpoints(dir);
  if (options_.communicator) options_.communicator->barrier();
  bool found = false;
  for (const std::string& candidate : list_checkpoints(dir)) {
    Checkpoint ck;
    try {
      ck = load_checkpoint(candidate);
    } catch (const std::exception& e) {
      if (log_) *log_ << "resume: " << e.what() << "; trying the previous checkpoint\n";
      continue;
    }
    // Each rank's data shard depends on the world size: another one cannot continue the epoch.
    if (ck.state.world_size != world_size())
      throw std::runtime_error("resume: checkpoint '" + candidate + "' was written by a run of " +
                               std::to_string(ck.state.world_size) + " data-parallel rank(s); this run has " +
                               std::to_string(world_size()) + " (resume with the same world size)");
    try {
      restore(ck);
    } catch (const std::exception& e) {
      if (log_) *log_ << "resume: " << e.what() << "; trying the previous checkpoint\n";
      continue;
    }
    if (log_)
      *log_ << "resume: continuing from " << candidate << " (step " << state_.step << ", epoch " << state_.epoch + 1
            << ")\n";
    found = true;
    break;
  }
  // best.json follows the checkpoint too: a kill between a new best's checkpoint and best.json
  // leaves it missing or naming the previous best.
  if (state_.best_step >= 0) write_best_json();
  else if (main_rank()) fs::remove(fs::path(options_.out_dir) / kBestJson);
  // The log keeps what the checkpoint covers (nothing without one); the steps after it are
  // redone and logged again.
  const std::string jsonl = (fs::path(run_dir) / kJsonl).string();
  if (main_rank() && fs::exists(jsonl)) {
    std::istringstream in(read_file(jsonl));
    std::string line, kept;
    while (std::getline(in, line)) {
      const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("step")) continue;  // a line cut by the kill
      if (j["step"].get<int64_t>() <= state_.step) kept += line + "\n";
    }
    write_file_atomic(jsonl, kept);
  }
  return found;
}

void Trainer::write_best_json() const {
  if (!main_rank()) return;
  const nlohmann::json best = {{"step", state_.best_step},
                               {"score", state_.best_score},
                               {"checkpoint", checkpoint_dir(checkpoints_dir(), state_.best_step)},
                               {"formula", options_.best_formula}};
  write_file_atomic((fs::path(options_.out_dir) / kBestJson).string(), best.dump(2) + "\n");
}

void Trainer::restore(const Checkpoint& ck) {
  // Validate everything before changing anything, so a refused checkpoint leaves the model as it was.
  std::vector<std::string> problems;
  for (const TrainedParameter& p : params_) {
    auto it = ck.weights.find(p.name);
    if (it == ck.weights.end())
      problems.push_back("missing weight '" + p.name + "'");
    else if (it->second.shape() != p.tensor.shape())
      problems.push_back("weight '" + p.name + "' has shape " + it->second.str() + ", the model " + p.tensor.str());
    for (const char* kind : {"exp_avg.", "exp_avg_sq."}) {
      auto m = ck.optimizer.find(kind + p.name);
      if (m == ck.optimizer.end() || m->second.shape() != p.tensor.shape())
        problems.push_back("optimizer state '" + std::string(kind) + p.name + "' missing or mis-shaped");
    }
  }
  if (ck.weights.size() != params_.size())
    problems.push_back("it has " + std::to_string(ck.weights.size()) + " weights, the model trains " +
                       std::to_string(params_.size()));
  const auto generators = model_.generators();
  for (const auto& [name, gen] : generators) {
    const bool found = std::any_of(ck.state.generators.begin(), ck.state.generators.end(),
                                   [&](const GeneratorState& g) { return g.name == name; });
    if (!found) problems.push_back("no state for random stream '" + name + "'");
  }
  if (ck.state.step > total_steps_)
    problems.push_back("its step " + std::to_string(ck.state.step) + " is past this run's " +
                       std::to_string(total_steps_) + " steps");
  if (!problems.empty()) {
    std::string all;
    for (const std::string& p : problems) all += (all.empty() ? "" : "; ") + p;
    throw std::runtime_error("checkpoint '" + ck.dir + "' does not fit this model: " + all);
  }
  autograd::NoGradGuard no_grad;
  std::vector<Tensor> exp_avg, exp_avg_sq;
  for (size_t k = 0; k < params_.size(); ++k) {
    copy_into(params_[k].tensor, ck.weights.at(params_[k].name));
    exp_avg.push_back(ck.optimizer.at("exp_avg." + params_[k].name));
    exp_avg_sq.push_back(ck.optimizer.at("exp_avg_sq." + params_[k].name));
  }
  if (sharded_) {
    sharded_->load_moments(exp_avg, exp_avg_sq, ck.state.optimizer_steps);
  } else {
    for (size_t k = 0; k < params_.size(); ++k) {
      copy_into(optimizer_->exp_avg()[k], exp_avg[k]);
      copy_into(optimizer_->exp_avg_sq()[k], exp_avg_sq[k]);
    }
    optimizer_->set_steps(ck.state.optimizer_steps);
    optimizer_->reload_masters();
  }
  for (const auto& [name, gen] : generators)
    for (const GeneratorState& g : ck.state.generators)
      if (g.name == name) gen->set_state(g.seed, g.offset);
  state_ = ck.state;
  epoch_started_ = false;
}

std::string Trainer::save_checkpoint_now() {
  std::vector<Tensor> exp_avg, exp_avg_sq;
  if (sharded_) sharded_->gather_moments(exp_avg, exp_avg_sq);  // every rank takes part
  else {
    exp_avg = optimizer_->exp_avg();
    exp_avg_sq = optimizer_->exp_avg_sq();
  }
  if (!main_rank()) return "";
  std::map<std::string, Tensor> weights, moments;
  for (size_t k = 0; k < params_.size(); ++k) {
    weights.emplace(params_[k].name, params_[k].tensor);
    moments.emplace("exp_avg." + params_[k].name, exp_avg[k]);
    moments.emplace("exp_avg_sq." + params_[k].name, exp_avg_sq[k]);
  }
  state_.optimizer_steps = sharded_ ? sharded_->steps() : optimizer_->steps();
  state_.world_size = world_size();
  state_.generators.clear();
  for (const auto& [name, gen] : model_.generators()) state_.generators.push_back({name, gen->seed(), gen->offset()});
  const std::string dir = save_checkpoint(checkpoints_dir(), state_, weights, moments);
  prune_checkpoints(checkpoints_dir(), options_.keep_checkpoints, state_.best_step);
  return dir;
}

void Trainer::fit() {
  while (step()) {
  }
  if (log_ && logs_) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - logs_->start).count();
    *log_ << "train: " << state_.step << " steps done in " << format_duration(elapsed);
    if (state_.best_step >= 0) *log_ << ", best score " << state_.best_score << " at step " << state_.best_step;
    *log_ << "\n";
  }
}

bool Trainer::step() {
  if (state_.step >= total_steps_) return false;
  if (!logs_) {
    if (!resumed_ && !list_checkpoints(checkpoints_dir()).empty())
      throw std::runtime_error(
          "trainer: '" + options_.out_dir +
          "' already holds checkpoints of a run: resume it (--resume) or train into another folder");
    fs::create_directories(options_.out_dir);
    logs_ = std::make_unique<Logs>();
    if (main_rank()) logs_->jsonl.open((fs::path(options_.out_dir) / kJsonl).string(), std::ios::app);
    if (main_rank() && !logs_->jsonl)
      throw std::runtime_error("trainer: cannot open '" + (fs::path(options_.out_dir) / kJsonl).string() + "'");
    if (options_.tensorboard && main_rank())
      logs_->tensorboard = std::make_unique<TensorBoardWriter>((fs::path(options_.out_dir) / "tensorboard").string());
    logs_->first_step = state_.step;
  }
  // --profile counts this trainer's steps (emrrg train: stage 2's, not a [pretrain] stage's).
  if (options_.profile) options_.profile->begin();
  const auto step_start = Clock::now();
  const size_t bpe = data_.batches_per_epoch();
  model_.set_training(true);
  for (TrainedParameter& p : params_) p.tensor.impl()->grad.reset();
  double loss_sum = 0, tokens = 0, images = 0;
  int64_t micro = 0;
  const int64_t step_epoch = state_.epoch;
  bool epoch_ended = false;
  while (micro == 0) {
    if (!epoch_started_) {
      data_.start_epoch(state_.epoch, static_cast<size_t>(state_.batch_in_epoch));
      epoch_started_ = true;
    }
    const int64_t want = std::min<int64_t>(options_.grad_accum,
                                           static_cast<int64_t>(bpe - std::min<size_t>(bpe, state_.batch_in_epoch)));
    data::Batch batch;
    while (micro < want && data_.next(batch)) {
      Tensor loss;
      double value;
      {
        const profiler::Range phase("forward", "phase");
        loss = model_.loss(batch);
        value = loss.item();
      }
      // Stop before the update: the last checkpoint stays the last good state.
      if (!std::isfinite(value))
        throw std::runtime_error("trainer: the loss is " + std::to_string(value) + " at step " +
                                 std::to_string(state_.step + 1) + " (epoch " + std::to_string(state_.epoch + 1) +
                                 ", batch " + std::to_string(data_.position()) + ", first study '" +
                                 (batch.ids.empty() ? std::string() : batch.ids[0]) + "')");
      {
        const profiler::Range phase("backward", "phase");
        // Each micro-batch contributes 1/want of the step's gradient. In the last one, each
        // bucket of gradients starts its all-reduce as soon as the backward has finished it.
        autograd::GradientReadyHook ready;
        if (buckets_ && micro + 1 == want) ready = [this](const Tensor& leaf) { buckets_->gradient_ready(leaf); };
        autograd::backward(mul(loss, 1.0 / static_cast<double>(want)), Tensor(), ready);
      }
      loss_sum += value;
      const auto [t, i] = batch_tokens_images(batch);
      tokens += t;
      images += i;
      ++micro;
    }
    state_.batch_in_epoch = data_.position();
    if (state_.batch_in_epoch >= bpe || micro < want) {
      ++state_.epoch;
      state_.batch_in_epoch = 0;
      epoch_started_ = false;
      epoch_ended = true;
      // Every remaining batch of the epoch was skipped as bad: take the step from the next one.
      if (micro == 0 && options_.epochs > 0 && state_.epoch >= options_.epochs) return false;
    }
  }
  if (options_.communicator) average_over_ranks(loss_sum, tokens, images, micro);
  double grad_norm, lr;
  {
    const profiler::Range phase("optimizer", "phase");  // clipping and the AdamW update
    std::vector<Tensor> tensors;
    for (const TrainedParameter& p : params_) tensors.push_back(p.tensor);
    grad_norm = clip_grad_norm(tensors, options_.clip);
    lr = learning_rate(schedule_, state_.step, step_epoch);
    optimizer_step(lr);
  }
  ++state_.step;
  const StepRecord rec{state_.step, step_epoch, loss_sum / static_cast<double>(micro), lr, grad_norm};
  history_.push_back(rec);
  log_step(rec, micro, tokens, images, std::chrono::duration<double>(Clock::now() - step_start).count());
  validate_and_checkpoint(epoch_ended, step_epoch);
  if (options_.profile) options_.profile->step();
  return true;
}

void Trainer::log_step(const StepRecord& rec, int64_t micro, double tokens, double images, double step_seconds) {
  nlohmann::json j = {{"type", "train"},
                      {"step", rec.step},
                      {"epoch", rec.epoch + 1},
                      {"loss", rec.loss},
                      {"lr", rec.lr},
                      {"grad_norm", rec.grad_norm},
                      {"micro_batches", micro},
                      {"tokens_per_s", tokens / step_seconds},
                      {"images_per_s", images / step_seconds},
                      {"step_seconds", step_seconds},
                      {"peak_rss_mb", peak_rss_mb()}};
  if (options_.device_memory_mb) j["device_peak_mb"] = options_.device_memory_mb();
  logs_->write(j);
  if (logs_->tensorboard) {
    logs_->tensorboard->add_scalar("train/loss", rec.loss, rec.step);
    logs_->tensorboard->add_scalar("train/lr", rec.lr, rec.step);
    logs_->tensorboard->add_scalar("train/grad_norm", rec.grad_norm, rec.step);
  }
  logs_->window_tokens += tokens;
  logs_->window_images += images;
  const bool due = rec.step % options_.log_every == 0 || rec.step == total_steps_ || rec.step == logs_->first_step + 1;
  if (!log_ || !due) return;
  const auto now = Clock::now();
  const double window = std::chrono::duration<double>(now - logs_->window_start).count();
  const double elapsed = std::chrono::duration<double>(now - logs_->start).count();
  const double per_step = elapsed / static_cast<double>(state_.step - logs_->first_step);
  char line[320];
  std::snprintf(line, sizeof(line),
                "step %lld/%lld  epoch %lld  loss %.4f  lr %.3g  gnorm %.3g  |  %.0f tok/s  %.1f img/s  |  %s elapsed, "
                "eta %s\n",
                static_cast<long long>(rec.step), static_cast<long long>(total_steps_),
                static_cast<long long>(rec.epoch + 1), rec.loss, rec.lr, rec.grad_norm, logs_->window_tokens / window,
                logs_->window_images / window, format_duration(elapsed).c_str(),
                format_duration(per_step * static_cast<double>(total_steps_ - state_.step)).c_str());
  *log_ << line << std::flush;
  logs_->window_start = now;
  logs_->window_tokens = logs_->window_images = 0;
}

void Trainer::validate_and_checkpoint(bool epoch_ended, int64_t step_epoch) {
  const int64_t step = state_.step;
  const bool last = step >= total_steps_;
  bool on_schedule;
  if (options_.val_every > 0) {
    on_schedule = step % options_.val_every == 0;
  } else {
    // n times per epoch, spread evenly over its steps (Lightning's val_check_interval = 1 / n).
    const int64_t n = std::max<int64_t>(options_.val_per_epoch, 1);
    const int64_t k = (step - 1) % steps_per_epoch_ + 1;  // the step's place in its epoch
    on_schedule = epoch_ended || k * n / steps_per_epoch_ > (k - 1) * n / steps_per_epoch_;
  }
  const bool val_due = validator_ && (on_schedule || last);
  bool new_best = false;
  if (val_due) {
    Metrics metrics;
    double score = 0;
    if (main_rank()) {
      model_.set_training(false);
      {
        const profiler::Range phase("validation", "phase");
        autograd::NoGradGuard no_grad;
        metrics = validator_(model_, step);
      }
      model_.set_training(true);
      score = SelectionFormula(options_.best_formula).evaluate(metrics);
    }
    // Every rank keeps the same best and takes the same checkpoint decisions.
    if (options_.communicator) score = options_.communicator->broadcast_value(score, 0);
    new_best = state_.best_step < 0 || score > state_.best_score;
    if (new_best) {
      state_.best_score = score;
      state_.best_step = step;
    }
    nlohmann::json j = {
        {"type", "val"}, {"step", step}, {"epoch", step_epoch + 1}, {"score", score}, {"metrics", metrics}};
    logs_->write(j);
    if (logs_->tensorboard) {
      for (const auto& [name, value] : metrics) logs_->tensorboard->add_scalar("val/" + name, value, step);
      logs_->tensorboard->add_scalar("val/score", score, step);
    }
    if (log_) {
      *log_ << "validation at step " << step << ": score " << score << " (" << options_.best_formula << ")"
            << (new_best
                    ? ", new best"
                    : ", best " + std::to_string(state_.best_score) + " at step " + std::to_string(state_.best_step))
            << "\n";
      print_metrics_table(*log_, {{"val", metrics}});
    }
  }
  const bool periodic =
      options_.checkpoint_every > 0 ? step % options_.checkpoint_every == 0 : (val_due || (!validator_ && epoch_ended));
  if (periodic || new_best || last) {
    {
      const profiler::Range phase("checkpoint", "phase");
      save_checkpoint_now();
    }
    if (new_best) write_best_json();
  }
}

}  // namespace emrrg::train
