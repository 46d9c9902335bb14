// `emrrg info`: how this binary was built and what it can run on.
#include <iostream>

#include "runtime/device.h"
#include "runtime/threading.h"
#include "train/cli/command_registry.h"

extern "C" char* openblas_get_config();

namespace {
const bool registered = emrrg::cli::register_command(
    {"info", "Print the build configuration, devices and thread count", [](CLI::App&) {
       return std::function<int()>([] {
         std::cout << "emrrg 0.1.0\n";
#ifdef NDEBUG
         std::cout << "build:    optimised (NDEBUG)\n";
#else
         std::cout << "build:    debug (assertions on)\n";
#endif
         std::cout << "compiler: " << __VERSION__ << ", C++ " << __cplusplus << "\n";
#if defined(__SANITIZE_ADDRESS__)
         std::cout << "sanitizers: address, undefined\n";
#endif
         std::cout << "blas:     " << openblas_get_config() << "\n";
         std::cout << "threads:  " << emrrg::num_threads() << " (OpenMP; set OMP_NUM_THREADS or --threads)\n";
         std::cout << "devices:  cpu";
         if (emrrg::has_device_backend(emrrg::DeviceType::CUDA)) {
           const int n = emrrg::device_backend(emrrg::DeviceType::CUDA).device_count();
           for (int i = 0; i < n; ++i) std::cout << ", cuda:" << i;
         } else {
           std::cout << " (built without the CUDA backend)";
         }
         std::cout << "\n";
         return 0;
       });
     }});
}  // namespace
