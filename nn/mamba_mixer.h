// The Mamba mixer (mamba_ssm's Mamba, NOTES §2) and its bidirectional variants: "v2" (Vim, NOTES §3)
// scans the sequence forward and flipped; "v3" (the ARM / MambaXray-VL backbone, NOTES §4) also scans
// the column-major order of a square patch grid with a middle class token, forward and flipped.
// Parameter names are the checkpoints' names: in_proj.weight, conv1d.{weight,bias}, x_proj.weight,
// dt_proj.{weight,bias}, A_log, D, out_proj.weight, and per extra scan the same with a suffix
// (_b, _c, _c_b): conv1d_b.bias, x_proj_c.weight, A_c_b_log, D_b, ...
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/layers.h"

namespace emrrg::nn {

enum class BiMamba { None, V2, V3 };

struct MambaMixerConfig {
  int64_t d_model = 0;
  int64_t d_state = 16;  // N
  int64_t d_conv = 4;    // causal conv width, 2..4
  int64_t expand = 2;    // d_inner = expand * d_model
  int64_t dt_rank = 0;   // 0: ceil(d_model / 16)
  double dt_min = 0.001, dt_max = 0.1, dt_init_floor = 1e-4;
  bool conv_bias = true;
  bool bias = false;  // in_proj and out_proj biases
  BiMamba bimamba = BiMamba::None;
  DType dtype = DType::Float32;  // of the projections and convs; A_log and D are always float32

  int64_t d_inner() const { return expand * d_model; }
  int64_t resolved_dt_rank() const { return dt_rank > 0 ? dt_rank : (d_model + 15) / 16; }
};

// Depthwise causal convolution: weight [d, 1, W], bias [d], both ~ U(-1/sqrt(W), 1/sqrt(W)) as
// PyTorch initialises Conv1d(d, d, W, groups=d).
class CausalConv1d : public Module {
 public:
  CausalConv1d(int64_t channels, int64_t width, bool bias, Generator& gen, DType dtype);
  Tensor forward(const Tensor& x, bool silu) const;  // [B, d, L] -> [B, d, L]
  Tensor weight, bias;
};

// One scan direction's own parameters.
struct MambaScan {
  std::shared_ptr<CausalConv1d> conv1d;
  std::shared_ptr<Linear> x_proj;   // d_inner -> dt_rank + 2N, rows in the order dt, B, C
  std::shared_ptr<Linear> dt_proj;  // dt_rank -> d_inner; its bias is the scan's delta_bias
  Tensor A_log;                     // [d_inner, N] float32, A = -exp(A_log)
  Tensor D;                         // [d_inner] float32
};

// What one scan of MambaMixer::forward hands selective_scan, and what it returns: the inputs of
// inspection tools (train/encoder_inspection.h, docs/mamba/). All in the scan's own order:
// u, delta (before delta_bias and the softplus), z, out [B, d_inner, L]; A [d_inner, N] (= -exp(A_log));
// B, C [B, N, L]; D, delta_bias [d_inner] float32.
struct ScanObservation {
  size_t scan = 0;  // index into MambaMixer::scans
  Tensor u, delta, A, B, C, D, z, delta_bias, out;
};
using ScanObserver = std::function<void(const ScanObservation&)>;

class MambaMixer : public Module {
 public:
  // Init as mamba_ssm (NOTES §2): Linear/Conv1d defaults; the forward scan's dt_proj weight
  // ~ U(-dt_rank^-0.5, dt_rank^-0.5) and bias = softplus^-1(dt), dt log-uniform in [dt_min, dt_max];
  // A_log = log(1..N) per row; D = 1. As in Vim's and ARM's code, the extra scans' dt_proj keep
  // PyTorch's Linear default (the models zero those biases afterwards, vision_mamba.h).
  MambaMixer(const MambaMixerConfig& config, Generator& gen = default_generator());

  // h [B, L, d_model] -> [B, L, d_model]:
  //   xz = in_proj(h); per scan: x = silu(conv1d(x half)); (dt, B, C) = x_proj(x);
  //   y = selective_scan(x, dt_proj.weight @ dt, -exp(A_log), B, C, D, z half, dt_proj.bias, softplus)
  //   none: out_proj(y); v2: out_proj((y + flip(y_b)) / 2);
  //   v3: out_proj((y + flip(y_b) + col(y_c + flip(y_cb))) / 4), the _c scans running on col(xz).
  // v3 needs L = n*n + 1 (a square grid plus the class token at L/2).
  Tensor forward(const Tensor& h) const;

  const MambaMixerConfig& config() const { return config_; }
  // Scan i's name suffix: "", "_b", "_c", "_c_b".
  static std::string scan_suffix(size_t i);

  std::shared_ptr<Linear> in_proj, out_proj;
  std::vector<MambaScan> scans;  // 1 (none), 2 (v2) or 4 (v3), in suffix order

  // Off by default (an empty function: one branch per scan). When set, forward calls it once per
  // scan, in scan order, with that scan's selective_scan arguments and output.
  void set_scan_observer(ScanObserver observer) { observer_ = std::move(observer); }

 private:
  Tensor run_scan(size_t index, const Tensor& xz) const;
  MambaMixerConfig config_;
  ScanObserver observer_;
};

// The column-major order of v3 (ARM's mamba_simple): for L = n*n + 1 tokens with the class token
// at p = L/2, remove it, transpose the n x n grid, put it back at p. Returns the int64 index i
// with column[j] = row[i[j]]; the order is its own inverse.
Tensor column_major_order(int64_t L);

}  // namespace emrrg::nn
