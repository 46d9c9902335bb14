// The --device option the subcommands share: auto (the GPU when there is one), cpu or cuda.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "runtime/device.h"

namespace emrrg::cli {

// Adds --device (default "auto") to `app`, stored in `choice`.
void add_device_option(CLI::App& app, std::string& choice);
// The device `choice` names; throws std::runtime_error for "cuda" when no GPU can be used,
// saying whether the build or the machine lacks it.
Device resolve_device(const std::string& choice);

}  // namespace emrrg::cli
