#include "train/cli/device_option.h"

#include <stdexcept>

namespace emrrg::cli {

void add_device_option(CLI::App& app, std::string& choice) {
  choice = "auto";
  app.add_option("--device", choice, "cpu, cuda, or auto (the GPU when there is one)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
}

Device resolve_device(const std::string& choice) {
  const bool backend = has_device_backend(DeviceType::CUDA);
  const bool gpu = backend && device_backend(DeviceType::CUDA).device_count() > 0;
  if (choice == "cuda" && !gpu)
    throw std::runtime_error(std::string("--device cuda: no CUDA device (this build has ") +
                             (backend ? "the CUDA backend but no GPU is visible)"
                                      : "no CUDA backend; configure with -DEMRRG_CUDA=ON)"));
  return (choice == "cuda" || (choice == "auto" && gpu)) ? Device::cuda(0) : Device::cpu();
}

}  // namespace emrrg::cli
