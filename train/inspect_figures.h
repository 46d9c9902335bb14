// The figures of `emrrg inspect` (train/encoder_inspection.h): maps over the patch grid drawn as
// heat maps over the image the encoder saw, in a perceptual colour map (viridis), with the layer
// name, a label per panel and a colour bar giving the range. PNG through train/data/image_io.h.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "train/data/image.h"
#include "train/encoder_inspection.h"

namespace emrrg::train {

// Matplotlib's viridis at v in [0, 1] (clamped; NaN draws as magenta so it cannot pass unseen).
std::array<uint8_t, 3> viridis(double v);

struct HeatPanel {
  std::string label;
  std::vector<double> values;  // [grid * grid], row-major patch order
  // A patch outlined in the panel (the query), -1 none. Its own value is left out of the colour
  // range (it saturates): a token's weight on itself, delta_t C_t . B_t, dwarfs the others.
  int64_t marked_patch = -1;
};

// One figure: `title` on top, the panels side by side over `background` (grey, the model's input
// size), each with its own colour scale (its min to max, the marked patch aside) shown as a bar
// beside it: the scans' step sizes differ by orders of magnitude (the forward scan's dt_proj bias
// is initialised small, the others' at 0), and a shared scale would flatten all but one.
data::Image render_heat_figure(const data::Image& background, int64_t grid, const std::string& title,
                               const std::vector<HeatPanel>& panels);

// Token values [grid * grid + 1] -> patch values [grid * grid], leaving out the class token.
std::vector<double> patch_values(const std::vector<double>& token_values, int64_t class_token);

// The encoder's view of an image as a grey picture: drop alpha, bicubic resize to size x size
// (as the preprocessing does), RGB averaged to grey.
data::Image model_view_grey(const data::Image& image, int size);

// Writes, per layer i (file names layerNN_*.png): mean delta and state norm, one panel per scan
// direction; the implicit attention of each query token (the class token "cls", a patch
// "patch_R_C"). Returns the paths written, in that order.
std::vector<std::string> write_inspection_figures(const Inspection& inspection, const data::Image& background,
                                                  const std::string& dir);

}  // namespace emrrg::train
