// The tiny EMRRG training run of the trainer tests (tests/train/test_emrrg_train.cpp) and of the
// simulated-GPU test (tests/sim/test_emrrg_training_on_device.cpp): one config, so both train the
// same model.
#pragma once
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/train/trainer_test_util.h"

namespace emrrg::testing {

// A tiny EMRRG on the 30-study phantom set at 16 px: ARM 16 wide, one block; LLM 16 wide, two
// layers, both hybrid; `tokenizer` (the demo's 512-piece report tokenizer). Stage 1 runs 3 steps,
// stage 2 4 steps into dir/out. Returns the config's path.
inline std::string write_tiny_emrrg_config(const ScratchDir& dir, const std::string& tokenizer) {
  const std::string annotation = make_phantom(dir / "data", 16);
  const std::string path = dir / "emrrg.toml";
  std::ofstream(path) << "[data]\nannotation = \"" << annotation << "\"\ndataset = \"demo\"\nmax_length = 24\nnum_workers = 1\n"
                      << "[vision]\nkind = \"arm\"\nimage_size = 16\npatch_size = 8\nd_model = 16\ndepth = 1\nd_state = 4\n"
                      << "[llm]\ntokenizer = \"" << tokenizer << "\"\nvocab_size = 512\nhidden_size = 16\n"
                      << "num_hidden_layers = 2\nnum_attention_heads = 2\nintermediate_size = 32\n"
                      << "[model]\nllm_tuning = \"hybrid\"\nhybrid_layers = [0, 1]\nprompt = \"<ImageHere>\"\n"
                      << "vision_tuning = \"lora_p_x\"\nvision_lora_rank = 4\n"
                      << "[pretrain]\nmax_steps = 3\nbatch_size = 4\nlr = 1e-3\nwarmup_steps = 1\n"
                      << "[train]\nbatch_size = 4\nepochs = 0\nmax_steps = 4\nlr = 1e-2\nlr_min = 1e-3\nout_dir = \""
                      << dir / "out" << "\"\nlog_every = 1\ntensorboard = false\n"
                      << "[generate]\nbeams = 2\nmin_new_tokens = 2\nmax_new_tokens = 5\n";
  return path;
}

// The records of a run's log.jsonl whose "type" is `type` ("train", "val").
inline std::vector<nlohmann::json> log_records(const std::string& jsonl, const std::string& type) {
  std::vector<nlohmann::json> out;
  std::ifstream in(jsonl);
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (j["type"] == type) out.push_back(std::move(j));
  }
  return out;
}

}  // namespace emrrg::testing
