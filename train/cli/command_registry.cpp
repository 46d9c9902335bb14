#include "train/cli/command_registry.h"

#include <algorithm>

namespace emrrg::cli {

namespace {
std::vector<Command>& commands() {
  static std::vector<Command> all;
  return all;
}
}  // namespace

bool register_command(Command command) {
  commands().push_back(std::move(command));
  return true;
}

const std::vector<Command>& registered_commands() {
  auto& all = commands();
  std::sort(all.begin(), all.end(), [](const Command& a, const Command& b) { return a.name < b.name; });
  return all;
}

}  // namespace emrrg::cli
