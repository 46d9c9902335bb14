#include "train/inspect_figures.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "train/bitmap_font.h"
#include "train/data/image_io.h"
#include "train/data/image_resize.h"

namespace emrrg::train {

namespace {

// viridis sampled at 0, 1/8, ..., 1 (matplotlib's table); neighbours are close enough in
// lightness that linear interpolation between them stays perceptually even.
constexpr std::array<std::array<double, 3>, 9> kViridis = {{{68, 1, 84},
                                                             {72, 40, 120},
                                                             {62, 74, 137},
                                                             {49, 104, 142},
                                                             {38, 130, 142},
                                                             {31, 158, 137},
                                                             {53, 183, 121},
                                                             {110, 206, 88},
                                                             {253, 231, 37}}};
constexpr std::array<uint8_t, 3> kInk = {20, 20, 20}, kPaper = {255, 255, 255}, kMark = {255, 64, 64};
constexpr int kText = 2;                                  // font scale
constexpr int kLine = kGlyphHeight * kText;               // text height
constexpr int kMargin = 10, kBarWidth = 16, kMinPanel = 256;
constexpr double kOverlay = 0.6;                          // weight of the colour over the image

std::string format_value(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

void fill_rect(data::Image& im, int x0, int y0, int w, int h, std::array<uint8_t, 3> c) {
  for (int y = std::max(0, y0); y < std::min(im.height, y0 + h); ++y)
    for (int x = std::max(0, x0); x < std::min(im.width, x0 + w); ++x)
      for (int ch = 0; ch < 3; ++ch) im.at(x, y, ch) = c[ch];
}

void outline(data::Image& im, int x0, int y0, int w, int h, std::array<uint8_t, 3> c) {
  fill_rect(im, x0, y0, w, 2, c);
  fill_rect(im, x0, y0 + h - 2, w, 2, c);
  fill_rect(im, x0, y0, 2, h, c);
  fill_rect(im, x0 + w - 2, y0, 2, h, c);
}

}  // namespace

std::array<uint8_t, 3> viridis(double v) {
  if (std::isnan(v)) return {255, 0, 255};
  const double x = std::clamp(v, 0.0, 1.0) * static_cast<double>(kViridis.size() - 1);
  const size_t i = std::min(static_cast<size_t>(x), kViridis.size() - 2);
  const double f = x - static_cast<double>(i);
  std::array<uint8_t, 3> out{};
  for (int c = 0; c < 3; ++c)
    out[c] = static_cast<uint8_t>(std::lround(kViridis[i][c] + f * (kViridis[i + 1][c] - kViridis[i][c])));
  return out;
}

data::Image render_heat_figure(const data::Image& background, int64_t grid, const std::string& title,
                               const std::vector<HeatPanel>& panels) {
  if (background.channels != 1 || background.width != background.height || background.width <= 0)
    throw std::invalid_argument("render_heat_figure: the background must be a square grey image");
  if (grid <= 0 || background.width % grid != 0)
    throw std::invalid_argument("render_heat_figure: a grid of " + std::to_string(grid) + " does not divide " +
                                std::to_string(background.width) + " pixels");
  if (panels.empty()) throw std::invalid_argument("render_heat_figure: no panels");
  // Each panel's colour range, and the legend text at its bar's ends.
  std::vector<double> lo(panels.size(), INFINITY), hi(panels.size(), -INFINITY);
  std::vector<std::string> lo_text, hi_text;
  int legend = 0;
  for (size_t k = 0; k < panels.size(); ++k) {
    const HeatPanel& p = panels[k];
    if (static_cast<int64_t>(p.values.size()) != grid * grid)
      throw std::invalid_argument("render_heat_figure: panel '" + p.label + "' has " +
                                  std::to_string(p.values.size()) + " values for a " + std::to_string(grid) +
                                  " x " + std::to_string(grid) + " grid");
    for (size_t j = 0; j < p.values.size(); ++j) {
      const double v = p.values[j];
      if (!std::isfinite(v))
        throw std::invalid_argument("render_heat_figure: panel '" + p.label + "' holds a non-finite value");
      if (static_cast<int64_t>(j) == p.marked_patch && grid > 1) continue;
      lo[k] = std::min(lo[k], v);
      hi[k] = std::max(hi[k], v);
    }
    lo_text.push_back(format_value(lo[k]));
    hi_text.push_back(format_value(hi[k]));
    legend = std::max({legend, text_width(lo_text.back(), kText), text_width(hi_text.back(), kText)});
  }
  const int scale = std::max(1, (kMinPanel + background.width - 1) / background.width);
  const int side = background.width * scale, cell = side / static_cast<int>(grid);
  // A panel, its colour bar (high at the top) and the bar's range.
  const int block = side + kMargin / 2 + kBarWidth + kMargin / 2 + legend + kMargin;
  const int n = static_cast<int>(panels.size());
  const int width = std::max(kMargin + n * block, 2 * kMargin + text_width(title, kText));
  const int top = kMargin + kLine + kMargin, panel_top = top + kLine + kMargin / 2;
  data::Image im(width, panel_top + side + kMargin, 3);
  std::fill(im.pixels.begin(), im.pixels.end(), kPaper[0]);
  draw_text(im, kMargin, kMargin, title, kInk, kText);
  for (int k = 0; k < n; ++k) {
    const HeatPanel& p = panels[k];
    const int x0 = kMargin + k * block;
    const double range = hi[k] > lo[k] ? hi[k] - lo[k] : 1.0;
    draw_text(im, x0, top, p.label, kInk, kText);
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x) {
        const double grey = background.at(x / scale, y / scale, 0);
        const double v = p.values[static_cast<size_t>((y / cell) * grid + x / cell)];
        const std::array<uint8_t, 3> c = viridis((v - lo[k]) / range);
        for (int ch = 0; ch < 3; ++ch)
          im.at(x0 + x, panel_top + y, ch) =
              static_cast<uint8_t>(std::lround((1 - kOverlay) * grey + kOverlay * c[ch]));
      }
    if (p.marked_patch >= 0 && p.marked_patch < grid * grid)
      outline(im, x0 + static_cast<int>(p.marked_patch % grid) * cell,
              panel_top + static_cast<int>(p.marked_patch / grid) * cell, cell, cell, kMark);
    const int bar_x = x0 + side + kMargin / 2, text_x = bar_x + kBarWidth + kMargin / 2;
    for (int y = 0; y < side; ++y)
      fill_rect(im, bar_x, panel_top + y, kBarWidth, 1, viridis(1.0 - static_cast<double>(y) / (side - 1)));
    draw_text(im, text_x, panel_top, hi_text[k], kInk, kText);
    draw_text(im, text_x, panel_top + side - kLine, lo_text[k], kInk, kText);
  }
  return im;
}

std::vector<double> patch_values(const std::vector<double>& token_values, int64_t class_token) {
  if (class_token < 0 || class_token >= static_cast<int64_t>(token_values.size()))
    throw std::out_of_range("patch_values: class token " + std::to_string(class_token) + " of " +
                            std::to_string(token_values.size()) + " tokens");
  std::vector<double> out(token_values);
  out.erase(out.begin() + class_token);
  return out;
}

data::Image model_view_grey(const data::Image& image, int size) {
  const data::Image rgb_or_grey = data::resize_bicubic(data::drop_alpha(image), size, size);
  if (rgb_or_grey.channels == 1) return rgb_or_grey;
  data::Image grey(size, size, 1);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      grey.at(x, y, 0) = static_cast<uint8_t>(
          (rgb_or_grey.at(x, y, 0) + rgb_or_grey.at(x, y, 1) + rgb_or_grey.at(x, y, 2) + 1) / 3);
  return grey;
}

std::vector<std::string> write_inspection_figures(const Inspection& inspection, const data::Image& background,
                                                  const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::vector<std::string> written;
  auto save = [&](const std::string& name, const data::Image& figure) {
    const std::string path = (std::filesystem::path(dir) / name).string();
    data::write_png(path, figure);
    written.push_back(path);
  };
  const int64_t g = inspection.grid, cls = inspection.class_token;
  for (size_t i = 0; i < inspection.layers.size(); ++i) {
    const LayerMaps& layer = inspection.layers[i];
    char prefix[32];
    std::snprintf(prefix, sizeof prefix, "layer%02zu_", i);
    std::vector<HeatPanel> delta, state;
    for (const ScanMaps& s : layer.scans) {
      delta.push_back({s.direction, patch_values(s.mean_delta, cls)});
      state.push_back({s.direction, patch_values(s.state_norm, cls)});
    }
    save(std::string(prefix) + "delta.png", render_heat_figure(background, g, layer.name + ": mean delta", delta));
    save(std::string(prefix) + "state.png", render_heat_figure(background, g, layer.name + ": state norm", state));
    for (size_t q = 0; q < inspection.query_tokens.size(); ++q) {
      const int64_t token = inspection.query_tokens[q];
      const int64_t patch = token == cls ? -1 : token < cls ? token : token - 1;
      const std::string who =
          patch < 0 ? "class token" : "patch " + std::to_string(patch / g) + "," + std::to_string(patch % g);
      const std::string file = patch < 0 ? "cls" : "patch_" + std::to_string(patch / g) + "_" + std::to_string(patch % g);
      const std::string scans = std::to_string(layer.scans.size()) + " scans";
      save(std::string(prefix) + "attention_" + file + ".png",
           render_heat_figure(background, g, layer.name + ": implicit attention, mean of " + scans,
                              {{"of the " + who, patch_values(layer.attention[q], cls), patch}}));
    }
  }
  return written;
}

}  // namespace emrrg::train
