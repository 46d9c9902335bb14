#include "train/scan_walkthrough.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <stdexcept>

#include "autograd/tape.h"
#include "ops/reduce.h"
#include "ops/selective_scan.h"

namespace emrrg::train {

namespace {

// An affine step h -> a h + b; `then` composes (first, then second) as the kernels' scan does.
struct Step {
  double a, b;
};
Step then(Step first, Step second) { return {second.a * first.a, second.a * first.b + second.b}; }

std::string fmt(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* format, ...) {
  char buf[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  return buf;
}

void check(const char* what, int64_t t, double formula, double op) {
  if (std::fabs(formula - op) > 1e-12)
    throw std::runtime_error(fmt("scan walkthrough: %s at t = %lld is %.17g by the formula, %.17g by selective_scan",
                                 what, static_cast<long long>(t), formula, op));
}

// selective_scan's out and gradients (du, ddelta, dA, dB, dC) of sum_t out_t, float64.
struct OpResult {
  std::vector<double> y, du, ddelta, dB, dC;
  double dA = 0, last_state = 0;
};

OpResult run_selective_scan(const ScanWalkthrough& e) {
  const auto L = static_cast<int64_t>(e.u.size());
  auto leaf = [](const std::vector<double>& v, const Shape& shape) {
    Tensor t = from_vector(v, shape, DType::Float64);
    t.set_requires_grad(true);
    return t;
  };
  Tensor u = leaf(e.u, {1, 1, L}), delta = leaf(e.delta, {1, 1, L}), A = leaf({e.A}, {1, 1});
  Tensor B = leaf(e.B, {1, 1, 1, L}), C = leaf(e.C, {1, 1, 1, L});
  const SelectiveScanResult r = selective_scan(u, delta, A, B, C, Tensor(), Tensor(), Tensor(), false);
  autograd::backward(sum(r.out));
  return {r.out.to_vector<double>(),   u.grad().to_vector<double>(), delta.grad().to_vector<double>(),
          B.grad().to_vector<double>(), C.grad().to_vector<double>(), A.grad().to_vector<double>()[0],
          r.last_state.to_vector<double>()[0]};
}

}  // namespace

ScanWalkthrough tour_example() {
  ScanWalkthrough e;
  e.u = {1, 2, 0, -1, 4, 0, 2, 1};
  e.delta = {1, 2, 1, 1, 2, 1, 1, 1};
  e.B = {1, 1, 1, 1, 1, 1, 1, 1};
  e.C = {1, 2, 1, 2, 1, 2, 1, 2};
  e.A = -std::log(2.0);
  e.chunk = 4;
  return e;
}

std::string scan_walkthrough_text(const ScanWalkthrough& e) {
  const auto L = static_cast<int64_t>(e.u.size());
  if (L == 0 || e.delta.size() != e.u.size() || e.B.size() != e.u.size() || e.C.size() != e.u.size() || e.chunk <= 0)
    throw std::invalid_argument("scan walkthrough: u, delta, B and C need one value per step, and a positive chunk");
  std::vector<Step> steps(static_cast<size_t>(L));
  std::vector<double> h(static_cast<size_t>(L)), y(static_cast<size_t>(L));
  std::string out = fmt("Selective scan of one channel, N = 1, L = %lld, A = %.6f, D = 0, no gate, delta as given.\n",
                        static_cast<long long>(L), e.A);
  out += "Forward: a_t = exp(delta_t A), b_t = delta_t B_t u_t, h_t = a_t h_{t-1} + b_t (h_{-1} = 0), y_t = C_t h_t\n";
  out += "  t      u  delta      B      C        a_t        b_t        h_t        y_t\n";
  double state = 0;
  for (int64_t t = 0; t < L; ++t) {
    steps[t] = {std::exp(e.delta[t] * e.A), e.delta[t] * e.B[t] * e.u[t]};
    state = h[t] = steps[t].a * state + steps[t].b;
    y[t] = e.C[t] * h[t];
    out += fmt("%3lld %6.2f %6.2f %6.2f %6.2f %10.6f %10.6f %10.6f %10.6f\n", static_cast<long long>(t), e.u[t],
               e.delta[t], e.B[t], e.C[t], steps[t].a, steps[t].b, h[t], y[t]);
  }
  // The chunked scan: each chunk composes its steps from the identity (1, 0), in parallel with
  // the others; the state carried in turns a local prefix (P_a, P_b) into h_t = P_a h_in + P_b.
  out += fmt("\nChunks of %lld: (P_a, P_b) = the steps from the chunk's start to t composed, h_t = P_a h_in + P_b\n",
             static_cast<long long>(e.chunk));
  const int64_t chunks = (L + e.chunk - 1) / e.chunk;
  double h_in = 0;
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t t0 = c * e.chunk, t1 = std::min(L, t0 + e.chunk);
    out += fmt("chunk %lld (t = %lld..%lld), carried in: h_in = %.6f\n", static_cast<long long>(c),
               static_cast<long long>(t0), static_cast<long long>(t1 - 1), h_in);
    Step prefix{1, 0};
    for (int64_t t = t0; t < t1; ++t) {
      prefix = then(prefix, steps[t]);
      const double ht = prefix.a * h_in + prefix.b;
      if (std::fabs(ht - h[t]) > 1e-12) throw std::logic_error("scan walkthrough: the chunked scan disagrees");
      out += fmt("  t = %lld: (P_a, P_b) = (%.6f, %.6f), h_t = %.6f * %.6f + %.6f = %.6f\n", static_cast<long long>(t),
                 prefix.a, prefix.b, prefix.a, h_in, prefix.b, ht);
    }
    out += fmt("  the chunk's step (%.6f, %.6f) carries h = %.6f out\n", prefix.a, prefix.b, prefix.a * h_in + prefix.b);
    h_in = prefix.a * h_in + prefix.b;
  }
  // The backward of loss = sum_t y_t (g_t = 1): the reverse recurrence, chunk by chunk from the
  // last, each chunk's reverse steps (a_{t+1}, g_t C_t) composed from its end, the carry
  // a_{t1} dh_{t1} of the chunk after it turning them into dh_t.
  std::vector<double> dh(static_cast<size_t>(L));
  out += "\nBackward of loss = sum_t y_t (g_t = 1): dh_t = g_t C_t + a_{t+1} dh_{t+1} (dh_L = 0)\n";
  out += "chunks from the last: (Q_a, Q_b) = the reverse steps (a_{k+1}, g_k C_k) from the chunk's end to t, "
         "dh_t = Q_a carry + Q_b\n";
  double carry = 0;
  for (int64_t c = chunks - 1; c >= 0; --c) {
    const int64_t t0 = c * e.chunk, t1 = std::min(L, t0 + e.chunk);
    out += fmt("chunk %lld, carried in: a_%lld dh_%lld = %.6f\n", static_cast<long long>(c), static_cast<long long>(t1),
               static_cast<long long>(t1), carry);
    Step prefix{1, 0};
    for (int64_t t = t1 - 1; t >= t0; --t) {
      // Inside the chunk the next position's a; at its end the carry already holds a_{t1} dh_{t1}.
      const double a_next = t + 1 < t1 ? steps[t + 1].a : 1.0;
      prefix = then(prefix, Step{a_next, 1.0 * e.C[t]});
      dh[t] = prefix.a * carry + prefix.b;
      out += fmt("  t = %lld: (Q_a, Q_b) = (%.6f, %.6f), dh_t = %.6f\n", static_cast<long long>(t), prefix.a, prefix.b,
                 dh[t]);
    }
    carry = steps[t0].a * dh[t0];
  }
  out += "Gradients (NOTES §2): du_t = dh_t B_t delta_t, ddelta_t = dh_t (B_t u_t + A a_t h_{t-1}),\n";
  out += "  dB_t = dh_t delta_t u_t, dC_t = g_t h_t, dA = sum_t dh_t delta_t a_t h_{t-1}\n";
  out += "  t       dh_t       du_t   ddelta_t       dB_t       dC_t\n";
  const OpResult op = run_selective_scan(e);
  double dA = 0;
  for (int64_t t = 0; t < L; ++t) {
    const double h_prev = t ? h[t - 1] : 0.0;
    const double du = dh[t] * e.B[t] * e.delta[t];
    const double ddelta = dh[t] * (e.B[t] * e.u[t] + e.A * steps[t].a * h_prev);
    const double dB = dh[t] * e.delta[t] * e.u[t], dC = h[t];
    dA += dh[t] * e.delta[t] * steps[t].a * h_prev;
    out += fmt("%3lld %10.6f %10.6f %10.6f %10.6f %10.6f\n", static_cast<long long>(t), dh[t], du, ddelta, dB, dC);
    check("y", t, y[t], op.y[t]);
    check("du", t, du, op.du[t]);
    check("ddelta", t, ddelta, op.ddelta[t]);
    check("dB", t, dB, op.dB[t]);
    check("dC", t, dC, op.dC[t]);
  }
  check("dA", L, dA, op.dA);
  check("last_state", L, h[L - 1], op.last_state);
  out += fmt("dA = %.6f\n", dA);
  out += "selective_scan (float64, through autograd) gives the same y, last state and gradients to 1e-12.\n";
  return out;
}

}  // namespace emrrg::train
