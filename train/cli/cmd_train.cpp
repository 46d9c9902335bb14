// `emrrg train --config C [--set table.key=value ...] [--resume DIR] [--out DIR]`.
#include <iostream>

#include "runtime/threading.h"
#include "train/cli/command_registry.h"
#include "train/train_run.h"

namespace {
const bool registered = emrrg::cli::register_command(
    {"train", "Train the model a TOML config describes (docs/CONFIG.md), resumable and logged", [](CLI::App& app) {
       auto o = std::make_shared<emrrg::train::TrainRunOptions>();
       auto threads = std::make_shared<int>(0);
       app.add_option("--config", o->config_path, "TOML config")->required()->check(CLI::ExistingFile);
       app.add_option("--set", o->overrides, "Override a config key: table.key=value (repeatable)");
       app.add_option("--resume", o->resume_dir, "Continue the run in this folder from its newest valid checkpoint");
       app.add_option("--out", o->out_dir, "Run folder (replaces [train] out_dir)");
       app.add_flag("--random-init", o->random_init, "EMRRG with random weights of [random_init]'s shapes, without the weight files");
       app.add_option("--threads", *threads, "CPU threads (0: all cores)")->capture_default_str();
       return std::function<int()>([o, threads] {
         if (*threads > 0) emrrg::set_num_threads(*threads);
         emrrg::train::run_training(*o, std::cout);
         return 0;
       });
     }});
}  // namespace
