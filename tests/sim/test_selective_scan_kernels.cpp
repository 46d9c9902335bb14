// The selective-scan kernels (cuda/kernels/selective_scan.cu) against the CPU operator
// (ops/selective_scan.cpp), run by the simulator: the forward (out and last_state) and the
// gradient of every input through autograd, float32 and bfloat16, with and without D, z and
// delta_bias, outputs poisoned before each pass. Lengths: 1 and 7 (4 positions per lane, most
// lanes padding), 197 (Vim's sequence, one chunk of 256) and 600 (three chunks, the state
// and dh carried across chunk boundaries). With D, z and delta_bias: 2 batch rows of 18
// channels, blocks of 8, 8 and 2 in the forward and of 16 and 2 in the backward, so blocks run
// with idle warps, the dB and dC partials of two blocks are summed and dA, dD and d delta_bias
// sum over batch; without them, one row of 9 channels.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/kernels/selective_scan.h"
#include "ops/selective_scan.h"
#include "tests/sim/row_kernel_test_util.h"

namespace emrrg {
namespace {

using namespace row_kernel_test;

class SelectiveScanKernels : public ::testing::Test {
 protected:
  void SetUp() override { register_cuda(); }
};

struct ScanCase {
  int64_t batch, dim, L, N;
  DType dtype;
  bool with_D, with_z, with_bias, softplus;
  bool bc_float32 = false;  // B and C float32 beside 16-bit u
  bool bc_3d = false;       // B and C [batch, N, L] instead of [batch, 1, N, L]

  std::string str() const {
    return std::string(dtype_name(dtype)) + " [" + std::to_string(batch) + ", " + std::to_string(dim) + ", " +
           std::to_string(L) + "] N " + std::to_string(N) + (with_D ? " D" : "") + (with_z ? " z" : "") +
           (with_bias ? " delta_bias" : "") + (softplus ? " softplus" : "") + (bc_float32 ? " BC-float32" : "") +
           (bc_3d ? " BC-3d" : "");
  }
};

// u, delta, A, B, C, D, z, delta_bias on the CPU (undefined where the case has none).
std::vector<Tensor> make_inputs(const ScanCase& c, uint64_t seed) {
  const Shape x_shape{c.batch, c.dim, c.L};
  const Shape bc_shape = c.bc_3d ? Shape{c.batch, c.N, c.L} : Shape{c.batch, 1, c.N, c.L};
  const DType bc_dtype = c.bc_float32 ? DType::Float32 : c.dtype;
  // Raw steps around softplus's knee (and positive steps without it), A < 0 as in Mamba.
  const Tensor delta = c.softplus ? random(x_shape, seed + 1, -3.0, 1.0) : random(x_shape, seed + 1, 0.01, 0.6);
  return {convert(random(x_shape, seed, -1.0, 1.0), c.dtype),
          convert(delta, c.dtype),
          random({c.dim, c.N}, seed + 2, -2.0, -0.1),
          convert(random(bc_shape, seed + 3, -1.0, 1.0), bc_dtype),
          convert(random(bc_shape, seed + 4, -1.0, 1.0), bc_dtype),
          c.with_D ? random({c.dim}, seed + 5, -1.0, 1.0) : Tensor(),
          c.with_z ? convert(random(x_shape, seed + 6, -2.0, 2.0), c.dtype) : Tensor(),
          c.with_bias ? random({c.dim}, seed + 7, -1.0, 0.5) : Tensor()};
}

struct ScanRun {
  Tensor out, last_state;
  std::vector<Tensor> grads;  // of u, delta, A, B, C, D, z, delta_bias (undefined where no input)
};

// out, last_state = selective_scan(inputs) and the gradients of sum(out * r), all inputs fresh
// leaves on r's device. Outputs are poisoned before each pass on the device.
ScanRun run(const ScanCase& c, const std::vector<Tensor>& inputs, const Tensor& r) {
  const Device dev = r.device();
  const bool gpu = dev == kGpu;
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) {
    Tensor l = t.defined() ? detach(to_device(t, dev)) : Tensor();
    if (l.defined()) l.set_requires_grad();
    leaves.push_back(l);
  }
  const Shape& x_shape = r.shape();
  if (gpu) poison({{x_shape, c.dtype}, {Shape{c.batch, c.dim, c.N}, DType::Float32}});
  const SelectiveScanResult res = selective_scan(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], leaves[5],
                                                 leaves[6], leaves[7], c.softplus);
  if (gpu)
    poison({{x_shape, c.dtype}, {x_shape, c.dtype}, {inputs[2].shape(), DType::Float32},
            {inputs[3].shape(), inputs[3].dtype()}, {Shape{c.dim}, DType::Float32}});
  autograd::backward(sum(mul(res.out, r)));
  ScanRun out{res.out, res.last_state, {}};
  for (const Tensor& l : leaves) out.grads.push_back(l.defined() ? l.grad() : Tensor());
  return out;
}

// float32: the kernels compose steps in a scan order where the CPU recurs left to right, and
// sum over channels and time in other orders. 16-bit: both round their float32 results once,
// which may land on neighbouring values.
Tolerance tolerance(DType t) {
  if (t == DType::Float32) return {5e-5, 5e-6};
  return t == DType::Float16 ? Tolerance{4e-3, 2e-3} : Tolerance{2e-2, 1e-2};
}

const char* const kGradNames[] = {"du", "ddelta", "dA", "dB", "dC", "dD", "dz", "ddelta_bias"};

// dA is exactly zero at L = 1 (no state before the first step): then the kernel's must be too.
void expect_close_or_zero(const Tensor& gpu, const Tensor& cpu, Tolerance tol, const std::string& what) {
  const std::vector<double> ref = cpu.to_vector<double>();
  if (std::any_of(ref.begin(), ref.end(), [](double v) { return v != 0.0; })) return expect_close(gpu, cpu, tol, what);
  for (double v : to_device(gpu, Device::cpu()).to_vector<double>()) ASSERT_EQ(v, 0.0) << what;
}

void expect_runs_close(const ScanRun& gpu, const ScanRun& cpu, Tolerance tol, const std::string& what) {
  expect_close(gpu.out, cpu.out, tol, what + " out");
  expect_close(gpu.last_state, cpu.last_state, tol, what + " last_state");
  for (size_t k = 0; k < cpu.grads.size(); ++k) {
    ASSERT_EQ(gpu.grads[k].defined(), cpu.grads[k].defined()) << what << " " << kGradNames[k];
    if (cpu.grads[k].defined()) expect_close_or_zero(gpu.grads[k], cpu.grads[k], tol, what + " " + kGradNames[k]);
  }
}

void expect_case_matches_cpu(const ScanCase& c, uint64_t seed) {
  const std::vector<Tensor> inputs = make_inputs(c, seed);
  const Tensor r = convert(random({c.batch, c.dim, c.L}, seed + 8), c.dtype);
  const ScanRun cpu = run(c, inputs, r);
  const ScanRun gpu = run(c, inputs, to_device(r, kGpu));
  expect_runs_close(gpu, cpu, tolerance(c.dtype), c.str());
}

void expect_lengths_match_cpu(DType dtype) {
  for (int64_t L : {1, 7, 197, 600}) {
    expect_case_matches_cpu({2, 18, L, 3, dtype, true, true, true, true}, 100 + L);
    expect_case_matches_cpu({1, 9, L, 3, dtype, false, false, false, false}, 200 + L);
  }
}

// selective_scan_forward_kernel and selective_scan_backward_kernel (4 and 8 positions per
// lane), then sum_partials_kernel for dA, dB, dC, dD and d delta_bias.
TEST_F(SelectiveScanKernels, Float32MatchesTheCpu) { expect_lengths_match_cpu(DType::Float32); }
TEST_F(SelectiveScanKernels, BFloat16MatchesTheCpu) { expect_lengths_match_cpu(DType::BFloat16); }

// Each optional input alone, B and C as float32 [batch, N, L] beside bfloat16 u, float16, and
// Mamba's 16 states.
TEST_F(SelectiveScanKernels, OptionalInputsLayoutsAndFloat16) {
  expect_case_matches_cpu({1, 3, 40, 16, DType::Float32, true, false, false, true}, 300);
  expect_case_matches_cpu({1, 3, 40, 16, DType::Float32, false, true, false, false}, 301);
  expect_case_matches_cpu({1, 3, 300, 2, DType::Float32, false, false, true, true, false, true}, 302);
  expect_case_matches_cpu({2, 9, 150, 3, DType::BFloat16, true, true, true, true, true, true}, 303);
  const ScanCase half{1, 9, 260, 3, DType::Float16, true, true, true, true};
  const std::vector<Tensor> inputs = make_inputs(half, 304);
  const Tensor r = convert(random({1, 9, 260}, 305), DType::Float16);
  expect_runs_close(run(half, inputs, to_device(r, kGpu)), run(half, inputs, r), tolerance(half.dtype), half.str());
}

// Raw steps in [16.5, 20.5), across softplus's threshold 20: exp(delta A) falls to e^-41, and
// the states, almost forgotten at every step, still match.
TEST_F(SelectiveScanKernels, LargeStepsMatchTheCpu) {
  const ScanCase c{1, 4, 70, 3, DType::Float32, true, true, true, true};
  std::vector<Tensor> inputs = make_inputs(c, 600);
  inputs[7] = full({4}, 19.5);
  const Tensor r = random({1, 4, 70}, 601);
  expect_runs_close(run(c, inputs, to_device(r, kGpu)), run(c, inputs, r), tolerance(c.dtype), c.str() + " near 20");
}

// Every sum (over channels for dB and dC, over batch and time for dA, dD and d delta_bias) is
// partials added in a fixed order: two runs give the same bits.
TEST_F(SelectiveScanKernels, GradientsAreReproducible) {
  const ScanCase c{2, 18, 300, 3, DType::Float32, true, true, true, true};
  const std::vector<Tensor> inputs = make_inputs(c, 400);
  const Tensor r = to_device(random({2, 18, 300}, 401), kGpu);
  const ScanRun first = run(c, inputs, r), second = run(c, inputs, r);
  expect_same_bits(first.out, second.out, "out");
  for (size_t k = 0; k < first.grads.size(); ++k)
    expect_same_bits(first.grads[k], second.grads[k], kGradNames[k]);
}

// The backward's `saved` must be the forward's chunk states; anything else is refused by name.
TEST_F(SelectiveScanKernels, ForeignSavedStatesAreRefused) {
  const ScanCase c{1, 3, 300, 2, DType::Float32, false, false, false, true};
  std::vector<Tensor> in = make_inputs(c, 500);
  for (Tensor& t : in)
    if (t.defined()) t = to_device(t, kGpu);
  const Tensor dout = to_device(random({1, 3, 300}, 501), kGpu);
  const Tensor wrong = zeros({1, 3, 1, 2}, DType::Float32, kGpu);  // 300 positions take 2 chunks
  try {
    cuda::selective_scan_backward(in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], true, wrong, dout);
    FAIL() << "a saved tensor of the wrong shape was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("saved"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace emrrg
