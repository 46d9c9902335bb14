// What a Vision Mamba encoder looks at (`emrrg inspect`, docs/mamba/06-inspect.md): per layer and
// scan direction, maps over the tokens of one image, from the scan inputs each mixer hands its
// observer (nn/mamba_mixer.h, ScanObservation):
//   mean delta   mean over channels of delta' = softplus(delta + delta_bias): how strongly the
//                token resets the state (a_t = exp(delta' A) -> 0) and writes itself into it
//   state norm   ||h_t|| over channels and states, h_t the scan's state after token t
//   attention    Mamba's implicit attention (ops/scan_attention.h) of a query token, averaged
//                over channels, taken back to token order and over the scans as the mixer
//                combines them: the mean of the directions (v2: / 2, v3: / 4)
// All float64, in token (row-major) order, the class token included.
#pragma once
#include <string>
#include <vector>

#include "models/vision_mamba/vision_mamba.h"

namespace emrrg::train {

// Scan `scan` of a mixer in `mode` over L tokens reads token order[j] at its position j:
// forward j, flipped L-1-j, column the column-major order (nn::column_major_order), column
// flipped that order reversed.
std::vector<int64_t> scan_token_order(nn::BiMamba mode, size_t scan, int64_t L);
// "forward", "backward", "column", "column backward".
std::string scan_direction_name(size_t scan);

// The implicit attention of one observed scan in token coordinates: alpha[b, d, q, s] is the
// weight of token s's u in token query_tokens[q]'s y. [batch, d_inner, queries, L] float64.
Tensor token_attention(const nn::ScanObservation& scan, const std::vector<int64_t>& token_order,
                       const std::vector<int64_t>& query_tokens);

struct ScanMaps {
  std::string direction;
  std::vector<double> mean_delta;  // [L]
  std::vector<double> state_norm;  // [L]
};

// The maps of batch row 0 of one observed scan, in the scan's own order (direction left empty).
ScanMaps scan_maps(const nn::ScanObservation& scan);

struct LayerMaps {
  std::string name;                             // "layers.3.mixer"
  std::vector<ScanMaps> scans;                  // in the mixer's scan order
  std::vector<std::vector<double>> attention;   // per query token: [L], the combined row
};

struct Inspection {
  int64_t grid = 0, class_token = 0;
  std::vector<int64_t> query_tokens;
  std::vector<LayerMaps> layers;
};

// Runs `encoder` (eval, no autograd) on one preprocessed image [1, channels, size, size] and
// collects every layer's maps; query_tokens are token indices in [0, num_tokens).
Inspection inspect_encoder(models::VisionMamba& encoder, const Tensor& image, const std::vector<int64_t>& query_tokens);

// Token index of the patch at (row, col) of the grid, skipping the class token in the middle.
int64_t patch_token(const models::VisionMambaConfig& config, int64_t row, int64_t col);

}  // namespace emrrg::train
