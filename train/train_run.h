// `emrrg train` and `emrrg test`: a TOML config (with --set overrides) -> data sets and loaders, the model, the
// Trainer with validation by generation on the val split, optionally resumed from a run folder.
// The model is the one the config's tables describe: EMRRG ([vision], [llm], [model]; with a
// [pretrain] table its encoder is first pre-trained, train/encoder_pretraining.h) or the text-only
// report language model ([report_lm], train/report_lm.h).
#pragma once
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "runtime/device.h"
#include "runtime/profiler.h"
#include "train/checkpoint.h"
#include "train/distributed/communicator.h"
#include "train/distributed/nccl_communicator.h"
#include "train/report_validation.h"

namespace emrrg::train {

struct TrainRunOptions {
  std::string config_path;
  std::vector<std::string> overrides;  // "table.key=value", applied in order
  std::string resume_dir;              // continue the run in this folder (its newest valid checkpoint)
  std::string out_dir;                 // replaces [train] out_dir
  // Data parallel (docs/DISTRIBUTED.md): under mpirun or srun every rank trains its shard.
  int zero = 0;               // 1: AdamW's moments sharded over the ranks (ZeRO-1)
  double dist_timeout = 300;  // seconds a collective waits for the other ranks before ending the job
  // --profile: the trainer of the config's model (with [pretrain], stage 2's, never stage 1's)
  // begins the session at its first step and marks each step's end.
  profiler::Session* profile = nullptr;
  bool random_init = false;            // EMRRG from [random_init], without the weight files
  // Where the model (and a [pretrain] stage's classifier) trains; the data are read on the host
  // and each batch is copied there. A data-parallel run on CUDA takes its node's GPU
  // cuda:<local rank> and averages on it through gpu_communicator.
  Device device = Device::cpu();
  // Makes the NCCL communicator of a data-parallel run on GPUs: the program sets it in builds
  // that link NCCL; without it such a run is refused.
  std::function<std::unique_ptr<distributed::Communicator>(int rank, int world_size, int device,
                                                           const distributed::NcclBootstrap& bootstrap, double timeout)>
      gpu_communicator;
  // "file:PATH" (--dist-init): NCCL's unique id through a file every rank sees, for launches
  // without MPI (srun without PMI); empty: through MPI.
  std::string dist_init;
};

// Trains to the end; returns the final state. Throws std::runtime_error naming the file and
// key for a bad config, the file for bad data, and for a data-parallel run on a GPU.
TrainerState run_training(const TrainRunOptions& options, std::ostream& log);

struct TestRunOptions {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string weights;  // a checkpoint folder or its model.safetensors
  std::string split = "test";
  std::string reports_path;  // non-empty: one JSON line per study {id, reference, generated}
  bool random_init = false;
  Device device = Device::cpu();  // where the model generates and scores the split
};

struct TestResult {
  Metrics metrics;  // every report metric and test_loss
  std::vector<GeneratedReport> reports;
  std::vector<std::pair<std::string, Metrics>> baselines;  // most frequent and random training report
};

// `emrrg test`: generates for every study of the split with the config's [generate] settings and
// scores the reports beside the two baselines.
TestResult run_test(const TestRunOptions& options, std::ostream& log);

struct ReportGenerationOptions {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string weights;
  std::vector<std::string> images;  // the views of one study, in the data set's order
  bool random_init = false;
  Device device = Device::cpu();
};

// `emrrg generate --config`: one report for the images of one study, with the [generate] settings.
std::string generate_report(const ReportGenerationOptions& options);

}  // namespace emrrg::train
