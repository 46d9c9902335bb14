// The tour's hand-checkable selective scan (docs/mamba/03-step-through.md, `emrrg scan-walkthrough`):
// one channel, one state, 8 steps, cut into chunks of 4. It prints every quantity of the forward
// (a_t, b_t, h_t, y_t), of the chunked scan (each chunk's composed step, the prefix carried into
// it, the local prefixes) and of the backward (the reverse scan's dh_t and its carry, and the
// gradients of NOTES §2), all computed from the formulas in float64, and checks them against
// selective_scan (ops/selective_scan.cpp) run in float64 through autograd.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace emrrg::train {

struct ScanWalkthrough {
  // delta is used as given (no delta_bias, no softplus); D = 0, no gate.
  std::vector<double> u, delta, B, C;
  double A = 0;
  int64_t chunk = 4;
};

// The example of the tour: A = -ln 2 and steps of 1 or 2, so every a_t is 1/2 or 1/4 and every
// number is a short binary fraction.
ScanWalkthrough tour_example();

// The walkthrough's text. Throws std::runtime_error naming the quantity when selective_scan's
// value differs from the formula's by more than 1e-12.
std::string scan_walkthrough_text(const ScanWalkthrough& example);

}  // namespace emrrg::train
