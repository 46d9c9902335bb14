// `emrrg demo-mlp`: a small MLP on generated spiral data (train/mlp_demo.h), the quickest check that the autograd, the optimiser and a device work.
#include <iostream>
#include <stdexcept>
#include <string>

#include "runtime/threading.h"
#include "train/cli/command_registry.h"
#include "train/cli/device_option.h"
#include "train/cli/profile_option.h"
#include "train/mlp_demo.h"

namespace {
const bool registered = emrrg::cli::register_command(
    {"demo-mlp", "Train a small MLP on generated spiral data and print the falling loss (the autograd and device check)", [](CLI::App& app) {
       auto o = std::make_shared<emrrg::train::MlpDemoOptions>();
       auto threads = std::make_shared<int>(0);
       auto device = std::make_shared<std::string>();
       app.add_option("--steps", o->steps, "Training steps")->capture_default_str()->check(CLI::PositiveNumber);
       app.add_option("--hidden", o->hidden, "Hidden width")->capture_default_str()->check(CLI::PositiveNumber);
       app.add_option("--lr", o->lr, "AdamW learning rate")->capture_default_str()->check(CLI::PositiveNumber);
       app.add_option("--seed", o->seed, "Random seed")->capture_default_str();
       app.add_option("--log-every", o->log_every, "Print every N steps")->capture_default_str()->check(CLI::PositiveNumber);
       app.add_option("--threads", *threads, "CPU threads (0: all cores)")->capture_default_str();
       auto profile = std::make_shared<emrrg::cli::ProfileChoice>();
       emrrg::cli::add_device_option(app, *device);
       emrrg::cli::add_profile_options(app, *profile, "training step");
       return std::function<int()>([o, threads, device, profile] {
         if (*threads > 0) emrrg::set_num_threads(*threads);
         o->device = emrrg::cli::resolve_device(*device);
         auto session = emrrg::cli::start_profile(*profile);
         o->profile = session.get();
         const auto r = emrrg::train::run_mlp_demo(*o, std::cout);
         emrrg::cli::finish_profile(session, *profile, std::cerr);
         return r.losses.back() < r.losses.front() ? 0 : 1;
       });
     }});
}  // namespace
