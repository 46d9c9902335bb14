// `emrrg demo`: EMRRG end to end on the built-in phantom chest X-rays with no download. Makes the
// data set when it is missing, trains configs/demo.toml (stage 1: the encoder with a 14-label head,
// cached in the run folder; stage 2: EMRRG with Partial LoRA and hybrid layers on it), tests the
// best checkpoint on the test split and prints the metrics beside the two baselines (the most
// frequent training report for every study, a random training report per study).
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "train/train_run.h"

namespace emrrg::train {

struct EmrrgDemoOptions {
  std::string config_path = "configs/demo.toml";
  std::vector<std::string> overrides;  // applied after the demo's own (data.annotation, llm.tokenizer)
  std::string data_dir = "data/demo";
  std::string out_dir = "runs/demo";
  int studies = 1000;  // of a data set made here
  int image_size = 64;
  Device device = Device::cpu();  // where both stages train and the test runs
};

struct EmrrgDemoResult {
  TrainerState state;
  TestResult test;
  double wall_seconds = 0, cpu_seconds = 0;
};

EmrrgDemoResult run_emrrg_demo(const EmrrgDemoOptions& options, std::ostream& log);

}  // namespace emrrg::train
