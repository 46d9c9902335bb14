// selective_scan and causal_conv1d against PyTorch transcriptions of mamba_ssm's
// selective_scan_ref and causal-conv1d's causal_conv1d_ref (tests/fixtures/
// selective_scan_golden.safetensors, written by tests/golden/make_selective_scan_golden.py):
// outputs, last states and the gradient of every input, computed there in float64 from float32
// inputs. The ops run in float32 and in float64 on those inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "ops/ops.h"
#include "runtime/safetensors.h"

namespace emrrg {
namespace {

SafetensorsFile golden() {
  return SafetensorsFile::open(std::string(EMRRG_FIXTURES_DIR) + "/selective_scan_golden.safetensors");
}

// |a - b| <= tol * max|b| elementwise: float32 rounding scales with the tensor's magnitude.
void expect_close(const Tensor& a, const Tensor& b, double tol, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  const auto av = a.to_vector<double>(), bv = b.to_vector<double>();
  double scale = 1e-30;
  for (double v : bv) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < av.size(); ++i) ASSERT_NEAR(av[i], bv[i], tol * scale) << what << " at " << i;
}

// A leaf copy of the fixture's tensor in `dtype` (undefined when the fixture has none).
Tensor leaf(const SafetensorsFile& f, const std::string& name, DType dtype) {
  if (!f.contains(name)) return Tensor();
  const Tensor t = f.get(name);
  Tensor c = empty(t.shape(), dtype);
  copy_into(c, t);
  return c.set_requires_grad(true);
}

// Tolerances (of the tensor's largest magnitude): float32 arithmetic against the float64
// reference, and float64 against float64 (different summation orders only).
constexpr double kFloat32Tol = 1e-5, kFloat64Tol = 1e-12;

TEST(GoldenMambaOps, SelectiveScanMatchesSelectiveScanRef) {
  const SafetensorsFile f = golden();
  const char* args[] = {"u", "delta", "A", "B", "C", "D", "z", "delta_bias"};
  for (const char* name : {"L1_full", "L7_full", "L7_D_only", "L197_full", "L197_plain"}) {
    const std::string prefix = std::string("scan.") + name + ".";
    const bool softplus = f.metadata().at(prefix + "delta_softplus") == "1";
    for (DType dtype : {DType::Float32, DType::Float64}) {
      SCOPED_TRACE(std::string(name) + " " + dtype_name(dtype));
      const double tol = dtype == DType::Float32 ? kFloat32Tol : kFloat64Tol;
      std::vector<Tensor> in;
      for (const char* a : args) in.push_back(leaf(f, prefix + a, dtype));
      SelectiveScanResult r = selective_scan(in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], softplus);
      autograd::backward(r.out, convert(f.get(prefix + "dout"), dtype));
      expect_close(r.out, f.get(prefix + "out"), tol, "out");
      expect_close(r.last_state, f.get(prefix + "last_state"), tol, "last_state");
      for (size_t k = 0; k < in.size(); ++k) {
        if (!in[k].defined()) continue;
        ASSERT_TRUE(in[k].grad().defined()) << args[k];
        expect_close(in[k].grad(), f.get(prefix + "grad." + args[k]), tol, std::string("grad ") + args[k]);
      }
    }
  }
}

TEST(GoldenMambaOps, CausalConv1dMatchesCausalConv1dRef) {
  const SafetensorsFile f = golden();
  for (const char* name : {"W4_bias_silu", "W3_plain", "W2_bias"}) {
    const std::string prefix = std::string("conv.") + name + ".";
    const bool silu = f.metadata().at(prefix + "silu") == "1";
    for (DType dtype : {DType::Float32, DType::Float64}) {
      SCOPED_TRACE(std::string(name) + " " + dtype_name(dtype));
      const double tol = dtype == DType::Float32 ? kFloat32Tol : kFloat64Tol;
      Tensor x = leaf(f, prefix + "x", dtype), w = leaf(f, prefix + "weight", dtype), b = leaf(f, prefix + "bias", dtype);
      Tensor y = causal_conv1d(x, w, b, silu);
      autograd::backward(y, convert(f.get(prefix + "dout"), dtype));
      expect_close(y, f.get(prefix + "out"), tol, "out");
      expect_close(x.grad(), f.get(prefix + "grad.x"), tol, "grad x");
      expect_close(w.grad(), f.get(prefix + "grad.weight"), tol, "grad weight");
      if (b.defined()) expect_close(b.grad(), f.get(prefix + "grad.bias"), tol, "grad bias");
    }
  }
}

}  // namespace
}  // namespace emrrg
