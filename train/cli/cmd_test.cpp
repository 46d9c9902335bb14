// `emrrg test --config C --weights W [--set table.key=value ...] [--reports FILE] [--json] [--device D]`.
#include <iostream>
#include <nlohmann/json.hpp>

#include "runtime/threading.h"
#include "train/cli/command_registry.h"
#include "train/cli/device_option.h"
#include "train/metrics_table.h"
#include "train/train_run.h"

namespace {
const bool registered = emrrg::cli::register_command(
    {"test", "Generate for the test split, score every metric beside two baselines, report test_loss",
     [](CLI::App& app) {
       auto o = std::make_shared<emrrg::train::TestRunOptions>();
       auto threads = std::make_shared<int>(0);
       auto json = std::make_shared<bool>(false);
       auto device = std::make_shared<std::string>();
       app.add_option("--config", o->config_path, "TOML config")->required()->check(CLI::ExistingFile);
       app.add_option("--weights", o->weights, "Checkpoint folder or model.safetensors")
           ->required()
           ->check(CLI::ExistingPath);
       app.add_option("--set", o->overrides, "Override a config key: table.key=value (repeatable)");
       app.add_option("--split", o->split, "Split to evaluate")->capture_default_str();
       app.add_option("--reports", o->reports_path, "Write {id, reference, generated} per study as JSON lines");
       app.add_flag("--json", *json, "Print the metrics as one JSON object");
       app.add_flag("--random-init", o->random_init, "EMRRG with random weights of [random_init]'s shapes, without the weight files");
       app.add_option("--threads", *threads, "CPU threads (0: all cores)")->capture_default_str();
       emrrg::cli::add_device_option(app, *device);
       return std::function<int()>([o, threads, json, device] {
         o->device = emrrg::cli::resolve_device(*device);
         if (*threads > 0) emrrg::set_num_threads(*threads);
         const emrrg::train::TestResult r = emrrg::train::run_test(*o, *json ? std::cerr : std::cout);
         if (*json) {
           nlohmann::json j = {{"model", r.metrics}};
           for (const auto& [name, m] : r.baselines) j[name] = m;
           std::cout << j.dump() << "\n";
         } else {
           std::vector<std::pair<std::string, emrrg::train::Metrics>> columns = {{"model", r.metrics}};
           columns.insert(columns.end(), r.baselines.begin(), r.baselines.end());
           emrrg::train::print_metrics_table(std::cout, columns);
         }
         return 0;
       });
     }});
}  // namespace
