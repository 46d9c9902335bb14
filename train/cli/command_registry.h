// Subcommands of the `emrrg` program register themselves here: each cmd_*.cpp holds
//   static const bool registered = emrrg::cli::register_command({"name", "help", setup});
// where setup adds the subcommand's options to a CLI11 App and returns the function to run.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace emrrg::cli {

struct Command {
  std::string name;
  std::string description;
  // Adds options to `app` (the subcommand) and returns the action, run after parsing; the
  // action returns the process exit code.
  std::function<std::function<int()>(CLI::App& app)> setup;
};

bool register_command(Command command);
const std::vector<Command>& registered_commands();

}  // namespace emrrg::cli
