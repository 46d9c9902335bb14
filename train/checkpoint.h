// Training checkpoints: one directory per checkpoint, <out>/checkpoints/step_<8 digits>/, with
//   model.safetensors      the trained weights under their model names
//   optimizer.safetensors  AdamW's moments ("exp_avg.<name>", "exp_avg_sq.<name>")
//   trainer_state.json     step, epoch, data position, random streams, best score, and the byte
//                          count and CRC-32C of both files above
// The files are written into a hidden temporary directory, fsynced, and the directory is renamed
// into place and its parent fsynced: a kill at any moment leaves every complete checkpoint whole
// and at most a temporary directory, which the next run removes. A checkpoint whose files do not
// match its state (truncated, edited) is refused with an error saying which file and how.
#pragma once
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace emrrg::train {

struct GeneratorState {
  std::string name;
  uint64_t seed = 0;
  uint64_t offset = 0;
};

struct TrainerState {
  int64_t step = 0;             // optimiser steps taken
  int64_t epoch = 0;            // the epoch the next batch belongs to (0-based)
  uint64_t batch_in_epoch = 0;  // batches of that epoch already consumed
  int64_t optimizer_steps = 0;  // AdamW's own count (bias corrections)
  int world_size = 1;            // data-parallel ranks that trained it (the data shards depend on it)
  std::vector<GeneratorState> generators;
  double best_score = -std::numeric_limits<double>::infinity();
  int64_t best_step = -1;  // -1: no validation yet
};

struct Checkpoint {
  std::string dir;
  TrainerState state;
  std::map<std::string, Tensor> weights;
  std::map<std::string, Tensor> optimizer;
};

// Writes step_<state.step> under `checkpoints_dir` (created if needed); returns its path.
std::string save_checkpoint(const std::string& checkpoints_dir, const TrainerState& state,
                            const std::map<std::string, Tensor>& weights,
                            const std::map<std::string, Tensor>& optimizer);
// The directory step_<step> under `checkpoints_dir` that save_checkpoint writes.
std::string checkpoint_dir(const std::string& checkpoints_dir, int64_t step);
// Reads and verifies one checkpoint directory; throws std::runtime_error naming the directory,
// the file and what is wrong.
Checkpoint load_checkpoint(const std::string& dir);
// The complete checkpoint directories under `checkpoints_dir`, newest step first.
std::vector<std::string> list_checkpoints(const std::string& checkpoints_dir);
// Removes the temporary directories a killed save left behind.
void remove_incomplete_checkpoints(const std::string& checkpoints_dir);
// Deletes all but the newest `keep` checkpoints, never the one of step `protected_step`.
void prune_checkpoints(const std::string& checkpoints_dir, int keep, int64_t protected_step);

}  // namespace emrrg::train
