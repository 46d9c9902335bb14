#include "train/encoder_inspection.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <stdexcept>

#include "autograd/tape.h"
#include "ops/mamba_math.h"
#include "ops/scan_attention.h"

namespace emrrg::train {

std::vector<int64_t> scan_token_order(nn::BiMamba mode, size_t scan, int64_t L) {
  const size_t scans = mode == nn::BiMamba::None ? 1 : mode == nn::BiMamba::V2 ? 2 : 4;
  if (scan >= scans)
    throw std::out_of_range("scan_token_order: scan " + std::to_string(scan) + " of a mixer with " +
                            std::to_string(scans));
  std::vector<int64_t> order(static_cast<size_t>(L));
  for (int64_t j = 0; j < L; ++j) order[j] = j;
  if (scan >= 2) order = nn::column_major_order(L).to_vector<int64_t>();
  if (scan % 2 == 1) std::reverse(order.begin(), order.end());
  return order;
}

std::string scan_direction_name(size_t scan) {
  static const char* names[] = {"forward", "backward", "column", "column backward"};
  if (scan >= 4) throw std::out_of_range("scan_direction_name: scan " + std::to_string(scan) + " of 4");
  return names[scan];
}

Tensor token_attention(const nn::ScanObservation& scan, const std::vector<int64_t>& token_order,
                       const std::vector<int64_t>& query_tokens) {
  const int64_t batch = scan.delta.size(0), dim = scan.delta.size(1), L = scan.delta.size(2);
  if (static_cast<int64_t>(token_order.size()) != L)
    throw std::invalid_argument("token_attention: an order of " + std::to_string(token_order.size()) +
                                " tokens for a scan of " + std::to_string(L));
  std::vector<int64_t> position_of(static_cast<size_t>(L), -1);  // the scan position reading token i
  for (int64_t j = 0; j < L; ++j) {
    const int64_t token = token_order[j];
    if (token < 0 || token >= L || position_of[token] >= 0)
      throw std::invalid_argument("token_attention: the order is not a permutation of the " + std::to_string(L) +
                                  " tokens (position " + std::to_string(j) + " reads token " + std::to_string(token) +
                                  ")");
    position_of[token] = j;
  }
  std::vector<int64_t> rows;
  for (int64_t q : query_tokens) {
    if (q < 0 || q >= L) throw std::out_of_range("token_attention: query token " + std::to_string(q));
    rows.push_back(position_of[q]);
  }
  const auto Q = static_cast<int64_t>(rows.size());
  const std::vector<double> alpha =
      scan_attention(scan.delta, scan.A, scan.B, scan.C, scan.delta_bias, true, rows).to_vector<double>();
  std::vector<double> tokens(alpha.size());
  for (int64_t r = 0; r < batch * dim * Q; ++r)
    for (int64_t j = 0; j < L; ++j) tokens[r * L + token_order[j]] = alpha[r * L + j];
  return from_vector(tokens, {batch, dim, Q, L}, DType::Float64);
}

ScanMaps scan_maps(const nn::ScanObservation& s) {
  const int64_t dim = s.u.size(1), L = s.u.size(2), N = s.A.size(1);
  const std::vector<double> u = s.u.to_vector<double>(), raw = s.delta.to_vector<double>();
  const std::vector<double> A = s.A.to_vector<double>(), B = s.B.to_vector<double>();
  const std::vector<double> bias = s.delta_bias.to_vector<double>();
  ScanMaps maps;
  maps.mean_delta.assign(static_cast<size_t>(L), 0.0);
  std::vector<double> squares(static_cast<size_t>(L), 0.0), h(static_cast<size_t>(N));
  for (int64_t d = 0; d < dim; ++d) {
    std::fill(h.begin(), h.end(), 0.0);
    for (int64_t t = 0; t < L; ++t) {
      const double dt = mamba::step_size(raw[d * L + t] + bias[d], true);
      maps.mean_delta[t] += dt / static_cast<double>(dim);
      for (int64_t n = 0; n < N; ++n) {
        h[n] = std::exp(dt * A[d * N + n]) * h[n] + dt * B[n * L + t] * u[d * L + t];
        squares[t] += h[n] * h[n];
      }
    }
  }
  maps.state_norm.resize(static_cast<size_t>(L));
  for (int64_t t = 0; t < L; ++t) maps.state_norm[t] = std::sqrt(squares[t]);
  return maps;
}

namespace {

// values[j] at scan position j -> token order[j].
std::vector<double> to_token_order(const std::vector<double>& values, const std::vector<int64_t>& order) {
  std::vector<double> out(values.size());
  for (size_t j = 0; j < values.size(); ++j) out[static_cast<size_t>(order[j])] = values[j];
  return out;
}

}  // namespace

Inspection inspect_encoder(models::VisionMamba& encoder, const Tensor& image, const std::vector<int64_t>& query_tokens) {
  const models::VisionMambaConfig& c = encoder.config();
  if (image.dim() != 4 || image.size(0) != 1)
    throw std::invalid_argument("inspect_encoder: image " + shape_str(image.shape()) + " is not [1, C, H, W]");
  const int64_t L = c.num_tokens();
  for (int64_t q : query_tokens)
    if (q < 0 || q >= L)
      throw std::out_of_range("inspect_encoder: query token " + std::to_string(q) + " outside [0, " +
                              std::to_string(L) + ")");
  Inspection result;
  result.grid = c.grid();
  result.class_token = c.class_token_index();
  result.query_tokens = query_tokens;
  const std::vector<nn::MambaMixer*> mixers = encoder.mixers();
  result.layers.resize(mixers.size());
  for (size_t i = 0; i < mixers.size(); ++i) {
    LayerMaps& layer = result.layers[i];
    layer.name = "layers." + std::to_string(i) + ".mixer";
    layer.scans.resize(mixers[i]->scans.size());
    layer.attention.assign(query_tokens.size(), std::vector<double>(static_cast<size_t>(L), 0.0));
    const nn::BiMamba mode = mixers[i]->config().bimamba;
    const double share = 1.0 / static_cast<double>(mixers[i]->scans.size());
    mixers[i]->set_scan_observer([&layer, &query_tokens, mode, share, L](const nn::ScanObservation& s) {
      const std::vector<int64_t> order = scan_token_order(mode, s.scan, L);
      ScanMaps maps = scan_maps(s);
      maps.direction = scan_direction_name(s.scan);
      maps.mean_delta = to_token_order(maps.mean_delta, order);
      maps.state_norm = to_token_order(maps.state_norm, order);
      layer.scans[s.scan] = std::move(maps);  // the mixer's sum does not fix the order scans run in
      const std::vector<double> alpha = token_attention(s, order, query_tokens).to_vector<double>();
      const int64_t dim = s.delta.size(1), Q = static_cast<int64_t>(query_tokens.size());
      for (int64_t d = 0; d < dim; ++d)
        for (int64_t q = 0; q < Q; ++q)
          for (int64_t t = 0; t < L; ++t)
            layer.attention[q][t] += share * alpha[(d * Q + q) * L + t] / static_cast<double>(dim);
    });
  }
  encoder.eval();
  std::exception_ptr failure;
  try {
    autograd::NoGradGuard no_grad;
    encoder.forward(image);
  } catch (...) {
    failure = std::current_exception();
  }
  for (nn::MambaMixer* m : mixers) m->set_scan_observer(nullptr);
  if (failure) std::rethrow_exception(failure);
  return result;
}

int64_t patch_token(const models::VisionMambaConfig& config, int64_t row, int64_t col) {
  const int64_t g = config.grid();
  if (row < 0 || row >= g || col < 0 || col >= g)
    throw std::out_of_range("patch (" + std::to_string(row) + ", " + std::to_string(col) + ") outside the " +
                            std::to_string(g) + " x " + std::to_string(g) + " patch grid");
  const int64_t p = row * g + col;
  return p < config.class_token_index() ? p : p + 1;
}

}  // namespace emrrg::train
