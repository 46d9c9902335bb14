#include "nn/mamba_mixer.h"

#include <cmath>
#include <stdexcept>

#include "ops/causal_conv1d.h"
#include "ops/elementwise.h"
#include "ops/indexing.h"
#include "ops/selective_scan.h"
#include "ops/shape.h"

namespace emrrg::nn {

CausalConv1d::CausalConv1d(int64_t channels, int64_t width, bool use_bias, Generator& gen, DType dtype) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(width));
  weight = register_parameter("weight", rand_uniform({channels, 1, width}, -bound, bound, gen, dtype));
  if (use_bias) bias = register_parameter("bias", rand_uniform({channels}, -bound, bound, gen, dtype));
}

Tensor CausalConv1d::forward(const Tensor& x, bool silu) const { return causal_conv1d(x, weight, bias, silu); }

std::string MambaMixer::scan_suffix(size_t i) {
  static const char* suffixes[] = {"", "_b", "_c", "_c_b"};
  if (i >= 4) throw std::out_of_range("MambaMixer::scan_suffix: scan " + std::to_string(i) + " of 4");
  return suffixes[i];
}

namespace {

// bias = softplus^-1(dt) with dt log-uniform in [dt_min, dt_max], clamped below at the floor.
Tensor dt_bias_init(const MambaMixerConfig& c, Generator& gen) {
  std::vector<double> u = rand_uniform({c.d_inner()}, 0.0, 1.0, gen, DType::Float64).to_vector<double>();
  for (double& v : u) {
    const double dt =
        std::max(std::exp(v * (std::log(c.dt_max) - std::log(c.dt_min)) + std::log(c.dt_min)), c.dt_init_floor);
    v = dt + std::log(-std::expm1(-dt));
  }
  return from_vector(u, {c.d_inner()}, c.dtype);
}

}  // namespace

MambaMixer::MambaMixer(const MambaMixerConfig& c, Generator& gen) : config_(c) {
  if (c.d_model <= 0 || c.d_state <= 0 || c.expand <= 0 || c.d_conv < 2 || c.d_conv > 4)
    throw std::invalid_argument("MambaMixer: d_model " + std::to_string(c.d_model) + ", d_state " +
                                std::to_string(c.d_state) + ", expand " + std::to_string(c.expand) + ", d_conv " +
                                std::to_string(c.d_conv) + ": sizes must be positive and d_conv in 2..4");
  const int64_t di = c.d_inner(), R = c.resolved_dt_rank(), N = c.d_state;
  in_proj = register_module("in_proj", std::make_shared<Linear>(c.d_model, 2 * di, c.bias, gen, c.dtype));
  const size_t n_scans = c.bimamba == BiMamba::None ? 1 : c.bimamba == BiMamba::V2 ? 2 : 4;
  std::vector<double> log_n(static_cast<size_t>(di * N));
  for (int64_t d = 0; d < di; ++d)
    for (int64_t n = 0; n < N; ++n) log_n[static_cast<size_t>(d * N + n)] = std::log(static_cast<double>(n + 1));
  for (size_t i = 0; i < n_scans; ++i) {
    const std::string sfx = scan_suffix(i);
    MambaScan s;
    s.A_log = register_parameter("A" + sfx + "_log", from_vector(log_n, {di, N}, DType::Float32));
    s.D = register_parameter("D" + sfx, ones({di}, DType::Float32));
    s.conv1d = register_module("conv1d" + sfx, std::make_shared<CausalConv1d>(di, c.d_conv, c.conv_bias, gen, c.dtype));
    s.x_proj = register_module("x_proj" + sfx, std::make_shared<Linear>(di, R + 2 * N, false, gen, c.dtype));
    s.dt_proj = register_module("dt_proj" + sfx, std::make_shared<Linear>(R, di, true, gen, c.dtype));
    if (i == 0) {
      const double std_init = 1.0 / std::sqrt(static_cast<double>(R));
      copy_into(s.dt_proj->weight, rand_uniform({di, R}, -std_init, std_init, gen, c.dtype));
      copy_into(s.dt_proj->bias, dt_bias_init(c, gen));
    }
    scans.push_back(s);
  }
  out_proj = register_module("out_proj", std::make_shared<Linear>(di, c.d_model, c.bias, gen, c.dtype));
}

Tensor MambaMixer::run_scan(size_t index, const Tensor& xz) const {
  const MambaScan& s = scans[index];
  const int64_t di = config_.d_inner(), R = config_.resolved_dt_rank(), N = config_.d_state;
  Tensor x = narrow(xz, 1, 0, di), z = narrow(xz, 1, di, di);  // [B, d_inner, L]
  Tensor u = s.conv1d->forward(x, true);
  Tensor x_dbl = s.x_proj->forward(transpose(u, 1, 2));                                  // [B, L, R + 2N]
  Tensor dt = transpose(s.dt_proj->forward_without_bias(narrow(x_dbl, 2, 0, R)), 1, 2);  // [B, d_inner, L]
  Tensor B = transpose(narrow(x_dbl, 2, R, N), 1, 2), C = transpose(narrow(x_dbl, 2, R + N, N), 1, 2);  // [B, N, L]
  Tensor A = neg(exp(s.A_log));
  Tensor delta_bias = cast(s.dt_proj->bias, DType::Float32);
  Tensor out = selective_scan(u, dt, A, B, C, s.D, z, delta_bias, true).out;
  if (observer_) observer_({index, u, dt, A, B, C, s.D, z, delta_bias, out});
  return out;
}

Tensor MambaMixer::forward(const Tensor& h) const {
  if (h.dim() != 3 || h.shape()[2] != config_.d_model)
    throw std::invalid_argument("MambaMixer: input " + shape_str(h.shape()) + " is not [batch, length, " +
                                std::to_string(config_.d_model) + "]");
  Tensor xz = transpose(in_proj->forward(h), 1, 2);  // [B, 2 d_inner, L]
  Tensor y = run_scan(0, xz);                        // [B, d_inner, L]
  if (config_.bimamba != BiMamba::None) {
    y = y + flip(run_scan(1, flip(xz, {2})), {2});
    if (config_.bimamba == BiMamba::V2) {
      y = y * 0.5;
    } else {
      Tensor order = column_major_order(h.shape()[1]);
      if (!xz.device().is_cpu()) order = to_device(order, xz.device());
      Tensor xc = index_select(xz, 2, order);
      Tensor yc = run_scan(2, xc) + flip(run_scan(3, flip(xc, {2})), {2});
      y = (y + index_select(yc, 2, order)) * 0.25;
    }
  }
  return out_proj->forward(transpose(y, 1, 2));
}

Tensor column_major_order(int64_t L) {
  const auto n = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(L - 1))));
  if (L < 2 || n * n != L - 1)
    throw std::invalid_argument("MambaMixer v3: sequence length " + std::to_string(L) +
                                " is not a square grid of patches plus one class token");
  const int64_t p = L / 2;
  std::vector<int64_t> order;
  order.reserve(static_cast<size_t>(L));
  // position k of the grid without the class token, back to its index in the row-major sequence
  auto with_cls = [p](int64_t k) { return k < p ? k : k + 1; };
  for (int64_t j = 0; j < L - 1; ++j) {
    if (j == p) order.push_back(p);
    const int64_t row = j % n, col = j / n;  // column-major position j holds grid cell (row, col)
    order.push_back(with_cls(row * n + col));
  }
  if (p == L - 1) order.push_back(p);
  return from_vector(order, {L}, DType::Int64);
}

}  // namespace emrrg::nn
