// The first demo: trains the MLP on a generated three-arm spiral, a classification problem no
// linear model solves, and reports the falling loss (tests/cpu/test_mlp_demo.cpp). `emrrg demo`
// now trains EMRRG (train/emrrg_demo.h).
#pragma once
#include <cstdint>
#include <iosfwd>
#include <vector>

#include "runtime/device.h"

namespace emrrg::profiler {
class Session;
}

namespace emrrg::train {

struct MlpDemoOptions {
  int64_t steps = 300;
  int64_t points_per_class = 200;
  int64_t hidden = 64;
  double lr = 1e-2;
  uint64_t seed = 42;
  int64_t log_every = 25;
  Device device = Device::cpu();  // where the model and data live
  profiler::Session* profile = nullptr;  // told of each step's end, when profiling
};

struct MlpDemoResult {
  std::vector<double> losses;  // one per step
  double accuracy = 0;         // on the training points after the last step
};

MlpDemoResult run_mlp_demo(const MlpDemoOptions& options, std::ostream& log);

}  // namespace emrrg::train
