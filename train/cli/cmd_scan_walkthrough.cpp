// `emrrg scan-walkthrough`: the tour's 8-step selective scan with every intermediate value, to
// check by hand (train/scan_walkthrough.h, docs/mamba/03-step-through.md).
#include <iostream>

#include "train/cli/command_registry.h"
#include "train/scan_walkthrough.h"

namespace {

const bool registered = emrrg::cli::register_command(
    {"scan-walkthrough",
     "Print a 1-channel, 8-step selective scan: h_t, the chunk states, the reverse scan and the gradients",
     [](CLI::App&) {
       return std::function<int()>([] {
         std::cout << emrrg::train::scan_walkthrough_text(emrrg::train::tour_example());
         return 0;
       });
     }});

}  // namespace
