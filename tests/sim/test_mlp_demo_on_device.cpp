// End to end on the (simulated) GPU: the MLP demo trains with cuBLAS linear layers, device
// GELU, cross-entropy, argmax and the fused AdamW step, and follows the CPU run step by step.
#include <gtest/gtest.h>

#include <sstream>

#include "cuda/cuda_backend.h"
#include "cuda/kernel_registration.h"
#include "train/mlp_demo.h"

namespace emrrg {
namespace {

TEST(MlpDemoOnDevice, LossesFollowTheCpuRun) {
  cuda::register_cuda_backend();
  cuda::register_cuda_kernels();
  train::MlpDemoOptions o;
  o.steps = 12;
  o.points_per_class = 40;
  o.hidden = 16;
  std::ostringstream log;
  const train::MlpDemoResult cpu = train::run_mlp_demo(o, log);
  o.device = Device::cuda(0);
  const train::MlpDemoResult gpu = train::run_mlp_demo(o, log);
  ASSERT_EQ(gpu.losses.size(), cpu.losses.size());
  for (size_t i = 0; i < cpu.losses.size(); ++i) EXPECT_NEAR(gpu.losses[i], cpu.losses[i], 1e-4) << "step " << i;
  EXPECT_LT(gpu.losses.back(), gpu.losses.front());
  EXPECT_NE(log.str().find("on cuda:0"), std::string::npos);
}

}  // namespace
}  // namespace emrrg
