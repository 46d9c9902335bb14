// The training loop: AdamW over a Trainable's trained parameters, a warm-up + cosine learning
// rate, gradient accumulation, gradient-norm clipping, validation through a callback with the
// best checkpoint kept by a formula, atomic checkpoints and exact resume, and logs (JSONL,
// TensorBoard, a progress line, a metrics table).
//
// One optimiser step consumes grad_accum micro-batches (fewer at the end of an epoch); the data
// order comes from the BatchSource, which depends only on the seed and the epoch, so the state a
// checkpoint needs is the step, the epoch, the batch position in it, AdamW's moments and the
// model's random streams. Resuming on the CPU reproduces an uninterrupted run bit for bit.
#pragma once
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/profiler.h"

#include "train/checkpoint.h"
#include "train/lr_schedule.h"
#include "train/optimizer.h"
#include "train/trainable.h"

namespace emrrg::train {

namespace distributed {
class Communicator;
class GradientBuckets;
class ShardedAdamW;
}  // namespace distributed

struct TrainerOptions {
  int64_t epochs = 1;
  int64_t max_steps = 0;  // > 0: stop after this many optimiser steps (and schedule over them)
  double lr = 1e-4;
  double lr_min = 1e-6;
  int64_t warmup_steps = 0;
  bool lr_per_epoch = false;  // cosine stepped per epoch (R2GenGPT) instead of per step
  double weight_decay = 0.01;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  // "bf16": the bfloat16/float16 trained parameters get float32 master weights in AdamW (the
  // model computes in its own dtype, [llm] dtype; frozen weights are never copied). "fp32": none.
  std::string precision = "fp32";
  int64_t grad_accum = 1;
  double clip = 1.0;             // max gradient norm; 0 disables clipping
  int64_t val_every = 0;         // validate every N steps; 0: val_per_epoch times per epoch
  int64_t val_per_epoch = 1;     // with val_every 0: validations per epoch, evenly spread
  int64_t checkpoint_every = 0;  // checkpoint every N steps; 0: after each validation
  int keep_checkpoints = 2;      // newest kept besides the best
  std::string best_formula = "0.8 * bleu_4 + 0.2 * cider";
  std::string out_dir = "runs/emrrg";
  int64_t log_every = 10;  // progress line every N steps (JSONL and TensorBoard get every step)
  bool tensorboard = true;
  // Peak device memory in MiB for the JSONL (the CUDA caching allocator's statistics); unset on
  // the CPU, where the log has the process's peak resident memory.
  std::function<double()> device_memory_mb;  // device_memory_reporter(the model's device)
  // Data parallel over the communicator's ranks (null: one process). Each rank's BatchSource
  // delivers its own shard; gradients are averaged in buckets of bucket_bytes; rank 0 logs,
  // validates and writes checkpoints (docs/DISTRIBUTED.md).
  distributed::Communicator* communicator = nullptr;
  int zero_stage = 0;  // 1: AdamW's moments sharded over the ranks (ZeRO-1)
  size_t bucket_bytes = size_t{25} << 20;
  // When profiling (--profile): begun at the first step and told of each optimiser step's end, so
  // it traces the steps after warm-up; each step has forward, backward and optimizer phase ranges.
  profiler::Session* profile = nullptr;
};

// What TrainerOptions::device_memory_mb reports for a model on `device`: its backend's peak
// allocation in MiB; nothing (an empty function) on the CPU.
std::function<double()> device_memory_reporter(Device device);

using Metrics = std::map<std::string, double>;
// Runs validation on the model in evaluation mode and returns its metrics.
using Validator = std::function<Metrics(Trainable& model, int64_t step)>;

struct StepRecord {
  int64_t step = 0;  // 1-based: the step just taken
  int64_t epoch = 0;
  double loss = 0;  // mean of the micro-batch losses
  double lr = 0;
  double grad_norm = 0;  // before clipping
};

class Trainer {
 public:
  Trainer(Trainable& model, BatchSource& data, const TrainerOptions& options, Validator validator = {},
          std::ostream* log = nullptr);
  ~Trainer();

  // Continues from the newest valid checkpoint under `run_dir`/checkpoints (a refused one is
  // reported on the log and the next older one tried); returns false when there is none, and the
  // run starts at step 0 in `run_dir`. The JSONL log keeps only the steps up to the checkpoint.
  // Without resume, training into a folder that holds checkpoints is an error.
  bool resume(const std::string& run_dir);
  // Trains to the end (max_steps or epochs).
  void fit();
  // Runs one optimiser step; false when training is over.
  bool step();

  const TrainerState& state() const { return state_; }
  int64_t total_steps() const { return total_steps_; }
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  const std::vector<StepRecord>& history() const { return history_; }  // steps run by this object
  std::string checkpoints_dir() const;
  // Writes a checkpoint of the current state now; returns its directory.
  std::string save_checkpoint_now();

 private:
  struct Logs;
  void log_step(const StepRecord& rec, int64_t micro, double tokens, double images, double step_seconds);
  void validate_and_checkpoint(bool epoch_ended, int64_t step_epoch);
  void restore(const Checkpoint& ck);
  // Writes best.json naming the best step, its score and its checkpoint (main rank only).
  void write_best_json() const;
  bool main_rank() const;
  int world_size() const;
  // Data parallel: the gradients averaged over the ranks, the step's loss sum and token and
  // image counts summed over them; then AdamW (sharded with ZeRO-1) at `lr`.
  void average_over_ranks(double& loss_sum, double& tokens, double& images, int64_t& micro);
  void optimizer_step(double lr);

  Trainable& model_;
  BatchSource& data_;
  TrainerOptions options_;
  Validator validator_;
  std::ostream* log_;
  std::vector<TrainedParameter> params_;
  std::unique_ptr<AdamW> optimizer_;
  LrSchedule schedule_;
  int64_t steps_per_epoch_ = 0;
  int64_t total_steps_ = 0;
  TrainerState state_;
  bool epoch_started_ = false;
  bool resumed_ = false;
  std::vector<StepRecord> history_;
  std::unique_ptr<Logs> logs_;
  std::unique_ptr<distributed::GradientBuckets> buckets_;
  std::unique_ptr<distributed::ShardedAdamW> sharded_;
};

}  // namespace emrrg::train
