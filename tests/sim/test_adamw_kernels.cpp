// adamw_step_kernel (cuda/kernels/adamw.cu) against train::AdamW on the CPU, run by the
// simulator: a few steps of parameters on the device (float32, bfloat16 with float32 state,
// two groups with their own weight decay) follow the CPU's parameters. The kernel evaluates
// the CPU's float32 expressions; on a GPU nvcc may fuse a multiply-add, so float32 agrees to
// 1e-6 relative; bfloat16 parameters to one rounding of their 8-bit mantissa (1e-2 relative).
#include "tests/sim/device_op_test_util.h"
#include "train/optimizer.h"

namespace emrrg {
namespace {

using namespace device_op_test;

class AdamWKernels : public DeviceOpTest {};

TEST_F(AdamWKernels, DeviceStepsFollowTheCpuOptimiser) {
  const std::vector<Shape> shapes = {{1000}, {3, 257}, {7}};
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    const double rel = dtype == DType::BFloat16 ? 1e-2 : 1e-6;
    std::vector<Tensor> initial, cpu, gpu;
    for (size_t k = 0; k < shapes.size(); ++k) {
      initial.push_back(random(shapes[k], 10 + k, dtype));
      cpu.push_back(random(shapes[k], 10 + k, dtype));  // the same values, its own storage
      gpu.push_back(to_device(initial.back(), kGpu));
    }
    train::AdamWOptions options;
    options.lr = 0.1;  // steps well above the bfloat16 tolerance, so a missed update shows
    options.weight_decay = 0.1;
    // The last parameter in a group without weight decay, as norms are trained.
    train::AdamW opt_cpu({cpu[0], cpu[1]}, options), opt_gpu({gpu[0], gpu[1]}, options);
    opt_cpu.add_param_group({cpu[2]}, 0.0);
    opt_gpu.add_param_group({gpu[2]}, 0.0);
    for (int step = 0; step < 3; ++step) {
      for (size_t k = 0; k < shapes.size(); ++k) {
        const Tensor g = random(shapes[k], 100 * step + k, dtype, -1.0, 1.0);
        cpu[k].set_grad(g);
        gpu[k].set_grad(to_device(g, kGpu));
      }
      opt_cpu.step();
      opt_gpu.step();
      for (size_t k = 0; k < shapes.size(); ++k) {
        const std::string what = label("AdamW step " + std::to_string(step + 1), dtype, shapes[k]);
        expect_close(gpu[k], cpu[k], rel, what);
        if (step > 0) continue;
        // The first step moves every element by about lr (Adam's normalised step).
        const auto before = initial[k].to_vector<double>(), after = host_values(gpu[k]);
        for (size_t i = 0; i < before.size(); ++i) ASSERT_GT(std::abs(after[i] - before[i]), 0.05) << what << " " << i;
      }
    }
  }
}

// A float32 gradient of a bfloat16 parameter is read as float32, as the CPU's working copy is.
TEST_F(AdamWKernels, GradientOfAnotherDtype) {
  Tensor cpu = random({300}, 20, DType::BFloat16);
  Tensor gpu = to_device(cpu, kGpu);
  train::AdamW opt_cpu({cpu}, {}), opt_gpu({gpu}, {});
  const Tensor g = random({300}, 21, DType::Float32);
  cpu.set_grad(g);
  gpu.set_grad(to_device(g, kGpu));
  opt_cpu.step();
  opt_gpu.step();
  expect_close(gpu, cpu, 1e-2, "bfloat16 parameter, float32 gradient");
}

}  // namespace
}  // namespace emrrg
