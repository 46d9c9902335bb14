// `emrrg demo`: EMRRG trained and tested on the phantom chest X-rays (train/emrrg_demo.h).
#include <filesystem>
#include <iostream>
#include <string>

#include "runtime/threading.h"
#include "train/cli/command_registry.h"
#include "train/cli/device_option.h"
#include "train/emrrg_demo.h"

namespace {

// configs/demo.toml from the working directory, else from the source tree the program was built from.
std::string default_config() {
  const std::string local = "configs/demo.toml";
  if (std::filesystem::exists(local)) return local;
  return std::string(EMRRG_SOURCE_DIR) + "/" + local;
}

const bool registered = emrrg::cli::register_command(
    {"demo", "Train EMRRG on phantom chest X-rays, test it and compare with two baselines", [](CLI::App& app) {
       auto o = std::make_shared<emrrg::train::EmrrgDemoOptions>();
       auto threads = std::make_shared<int>(0);
       auto device = std::make_shared<std::string>();
       o->config_path = default_config();
       app.add_option("--config", o->config_path, "The demo's TOML config")->capture_default_str()->check(CLI::ExistingFile);
       app.add_option("--data", o->data_dir, "Phantom data folder (made when missing)")->capture_default_str();
       app.add_option("--out", o->out_dir, "Run folder (a stage-1 encoder there is reused)")->capture_default_str();
       app.add_option("--studies", o->studies, "Studies of a data set made here")->capture_default_str()
           ->check(CLI::Range(30, 100000));
       app.add_option("--size", o->image_size, "Image size of a data set made here")->capture_default_str()
           ->check(CLI::Range(16, 1024));
       app.add_option("--set", o->overrides, "Override a config key: table.key=value (repeatable)");
       app.add_option("--threads", *threads, "CPU threads (0: all cores)")->capture_default_str();
       emrrg::cli::add_device_option(app, *device);
       return std::function<int()>([o, threads, device] {
         o->device = emrrg::cli::resolve_device(*device);
         if (*threads > 0) emrrg::set_num_threads(*threads);
         emrrg::train::run_emrrg_demo(*o, std::cout);
         return 0;
       });
     }});
}  // namespace
