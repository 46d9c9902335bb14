// The emrrg program: one binary, one subcommand per task (see `emrrg --help`).
#include <exception>
#include <iostream>
#include <map>

#include "train/cli/command_registry.h"
#if defined(EMRRG_WITH_CUDA)
#include "cuda/cuda_backend.h"
#include "cuda/kernel_registration.h"
#endif

int main(int argc, char** argv) {
#if defined(EMRRG_WITH_CUDA)
  emrrg::cuda::register_cuda_backend();
  emrrg::cuda::register_cuda_kernels();
#endif
  CLI::App app{"emrrg: train and run EMRRG radiology report generation (Vision Mamba + Llama 2), no Python"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "emrrg 0.1.0");
  std::map<CLI::App*, std::function<int()>> actions;
  for (const auto& command : emrrg::cli::registered_commands()) {
    CLI::App* sub = app.add_subcommand(command.name, command.description);
    actions[sub] = command.setup(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& [sub, action] : actions)
      if (sub->parsed()) return action();
  } catch (const std::exception& e) {
    std::cerr << "emrrg: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
