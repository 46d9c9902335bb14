#include "train/data/phantom_renderer.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace emrrg::data {

namespace {

constexpr float kPi = 3.14159265358979f;

inline float clampf(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }
inline float smoothstep(float e0, float e1, float x) {
  const float t = clampf((x - e0) / (e1 - e0), 0.0f, 1.0f);
  return t * t * (3.0f - 2.0f * t);
}
inline float sq(float x) { return x * x; }

// A float image over normalised coordinates: pixel (i, j) has centre ((i + 0.5) / S, (j + 0.5) / S).
struct Layer {
  int S;
  std::vector<float> v;
  explicit Layer(int s) : S(s), v(static_cast<size_t>(s) * s, 0.0f) {}
  float& at(int i, int j) { return v[static_cast<size_t>(j) * S + i]; }
  float at(int i, int j) const { return v[static_cast<size_t>(j) * S + i]; }
  float px() const { return 1.0f / S; }  // one pixel in normalised units
};

enum class Blend { Add, Max };

inline void blend(float& dst, float value, Blend mode) {
  if (mode == Blend::Add) dst += value;
  else dst = std::max(dst, value);
}

// Pixel range covering [lo, hi] in normalised coordinates.
inline void pixel_range(const Layer& L, float lo, float hi, int& a, int& b) {
  a = std::max(0, static_cast<int>(std::floor(lo * L.S - 0.5f)));
  b = std::min(L.S - 1, static_cast<int>(std::ceil(hi * L.S - 0.5f)));
}

// A tapered capsule (segment with radius r0 at p0, r1 at p1), anti-aliased over about a pixel.
void capsule(Layer& L, float u0, float v0, float u1, float v1, float r0, float r1, float value, Blend mode = Blend::Add) {
  const float e = 0.7f * L.px();
  const float rmax = std::max(r0, r1) + e;
  int i0, i1, j0, j1;
  pixel_range(L, std::min(u0, u1) - rmax, std::max(u0, u1) + rmax, i0, i1);
  pixel_range(L, std::min(v0, v1) - rmax, std::max(v0, v1) + rmax, j0, j1);
  const float du = u1 - u0, dv = v1 - v0;
  const float len2 = du * du + dv * dv;
  for (int j = j0; j <= j1; ++j) {
    const float v = (j + 0.5f) * L.px();
    for (int i = i0; i <= i1; ++i) {
      const float u = (i + 0.5f) * L.px();
      float t = len2 > 0 ? ((u - u0) * du + (v - v0) * dv) / len2 : 0.0f;
      t = clampf(t, 0.0f, 1.0f);
      const float d = std::sqrt(sq(u - u0 - t * du) + sq(v - v0 - t * dv));
      const float r = std::max(r0 + (r1 - r0) * t, 0.35f * L.px());
      if (d > r + e) continue;
      blend(L.at(i, j), value * smoothstep(r + e, r - e, d), mode);
    }
  }
}

// A polyline through points, each joint drawn once (Max blending avoids beads at joints).
void polyline(Layer& L, const std::vector<std::pair<float, float>>& p, float r, float value) {
  for (size_t k = 0; k + 1 < p.size(); ++k) capsule(L, p[k].first, p[k].second, p[k + 1].first, p[k + 1].second, r, r, value, Blend::Max);
}

// Points along a cubic Bezier curve.
std::vector<std::pair<float, float>> bezier(float x0, float y0, float x1, float y1, float x2, float y2, float x3, float y3,
                                            int n = 24) {
  std::vector<std::pair<float, float>> out;
  for (int k = 0; k <= n; ++k) {
    const float t = static_cast<float>(k) / n, s = 1 - t;
    out.emplace_back(s * s * s * x0 + 3 * s * s * t * x1 + 3 * s * t * t * x2 + t * t * t * x3,
                     s * s * s * y0 + 3 * s * s * t * y1 + 3 * s * t * t * y2 + t * t * t * y3);
  }
  return out;
}

// A rotated superellipse |x/rx|^p + |y/ry|^p <= 1 (p = 2: an ellipse; large p: a rounded box),
// soft-edged; `falloff` > 0 makes the value fade towards the rim (a rounded density).
void superellipse(Layer& L, float cu, float cv, float rx, float ry, float angle, float p, float value, Blend mode = Blend::Add,
                  float falloff = 0.0f) {
  const float e = 0.8f * L.px() / std::max(std::min(rx, ry), L.px());
  const float r = std::max(rx, ry) * 1.1f + 2 * L.px();
  int i0, i1, j0, j1;
  pixel_range(L, cu - r, cu + r, i0, i1);
  pixel_range(L, cv - r, cv + r, j0, j1);
  const float c = std::cos(angle), s = std::sin(angle);
  for (int j = j0; j <= j1; ++j) {
    const float v = (j + 0.5f) * L.px() - cv;
    for (int i = i0; i <= i1; ++i) {
      const float u = (i + 0.5f) * L.px() - cu;
      const float x = (c * u + s * v) / rx, y = (-s * u + c * v) / ry;
      const float rho = p == 2.0f ? std::sqrt(x * x + y * y) : std::pow(std::pow(std::fabs(x), p) + std::pow(std::fabs(y), p), 1.0f / p);
      if (rho > 1 + e) continue;
      float w = smoothstep(1 + e, 1 - e, rho);
      if (falloff > 0) w *= 1.0f - falloff * rho * rho;
      blend(L.at(i, j), value * w, mode);
    }
  }
}

void gaussian(Layer& L, float cu, float cv, float su, float sv, float value) {
  int i0, i1, j0, j1;
  pixel_range(L, cu - 3 * su, cu + 3 * su, i0, i1);
  pixel_range(L, cv - 3 * sv, cv + 3 * sv, j0, j1);
  for (int j = j0; j <= j1; ++j) {
    const float v = (j + 0.5f) * L.px();
    const float gv = sq((v - cv) / sv);
    for (int i = i0; i <= i1; ++i) {
      const float u = (i + 0.5f) * L.px();
      L.at(i, j) += value * std::exp(-0.5f * (sq((u - cu) / su) + gv));
    }
  }
}

// Smooth value noise in [-1, 1] on a G x G lattice over the unit square.
class ValueNoise {
 public:
  ValueNoise(Rng& rng, int grid) : G_(grid), g_(static_cast<size_t>(grid + 1) * (grid + 1)) {
    for (auto& x : g_) x = static_cast<float>(rng.uniform(-1.0, 1.0));
  }
  float at(float u, float v) const {
    const float x = clampf(u, 0.0f, 0.9999f) * G_, y = clampf(v, 0.0f, 0.9999f) * G_;
    const int xi = static_cast<int>(x), yi = static_cast<int>(y);
    float fx = x - xi, fy = y - yi;
    fx = fx * fx * (3 - 2 * fx);
    fy = fy * fy * (3 - 2 * fy);
    const float* r0 = &g_[static_cast<size_t>(yi) * (G_ + 1) + xi];
    const float* r1 = r0 + (G_ + 1);
    return (r0[0] * (1 - fx) + r0[1] * fx) * (1 - fy) + (r1[0] * (1 - fx) + r1[1] * fx) * fy;
  }

 private:
  int G_;
  std::vector<float> g_;
};

// A vessel tree: a trunk from the hilum that forks `depth` times, tapering and thinning.
void vessel_tree(Layer& L, Rng& rng, float u, float v, float angle, float length, float radius, float value, int depth) {
  const float u1 = u + length * std::cos(angle), v1 = v + length * std::sin(angle);
  const float r1 = radius * 0.72f;
  capsule(L, u, v, u1, v1, radius, r1, value);
  if (depth == 0) return;
  const int children = 2;
  for (int c = 0; c < children; ++c) {
    const float spread = static_cast<float>(rng.uniform(0.25, 0.6)) * (c == 0 ? 1.0f : -1.0f);
    vessel_tree(L, rng, u1, v1, angle + spread, length * static_cast<float>(rng.uniform(0.62, 0.85)), r1, value * 0.8f, depth - 1);
  }
}

// Positions a patient in the final image (small rotation, scale, shift), then exposes it:
// I = 1 - exp(-k A), gamma, offset, Gaussian noise; returns 8-bit grey.
Image expose(const Layer& A, Rng& rng) {
  const int S = A.S;
  const float angle = static_cast<float>(rng.normal(0.0, 1.3)) * kPi / 180.0f;
  const float scale = static_cast<float>(rng.uniform(0.95, 1.04));
  const float su = static_cast<float>(rng.uniform(-0.015, 0.015)), sv = static_cast<float>(rng.uniform(-0.012, 0.012));
  const float k = static_cast<float>(rng.uniform(1.55, 2.05));
  const float gamma = static_cast<float>(rng.uniform(0.85, 1.18));
  const float offset = static_cast<float>(rng.normal(0.0, 0.02));
  const float contrast = static_cast<float>(rng.uniform(0.92, 1.08));
  const float noise = static_cast<float>(rng.uniform(0.008, 0.024));
  const float c = std::cos(angle), s = std::sin(angle);
  // Tone curve as a table over attenuation [0, kMaxA].
  constexpr int kSteps = 4096;
  constexpr float kMaxA = 6.0f;
  std::vector<float> tone(kSteps + 2);
  for (int t = 0; t <= kSteps + 1; ++t) {
    const float a = kMaxA * t / kSteps;
    float I = std::pow(1.0f - std::exp(-k * a), gamma);
    tone[t] = (I - 0.5f) * contrast + 0.5f + offset;
  }
  Image out(S, S, 1);
  for (int j = 0; j < S; ++j) {
    for (int i = 0; i < S; ++i) {
      // Output pixel -> patient coordinates.
      const float x = (i + 0.5f) / S - 0.5f - su, y = (j + 0.5f) / S - 0.5f - sv;
      const float pu = (c * x + s * y) / scale + 0.5f, pv = (-s * x + c * y) / scale + 0.5f;
      // Bilinear sample (outside the canvas: air).
      const float fx = pu * S - 0.5f, fy = pv * S - 0.5f;
      const int x0 = static_cast<int>(std::floor(fx)), y0 = static_cast<int>(std::floor(fy));
      const float ax = fx - x0, ay = fy - y0;
      auto get = [&](int xx, int yy) { return (xx < 0 || yy < 0 || xx >= S || yy >= S) ? 0.0f : A.at(xx, yy); };
      const float a = (get(x0, y0) * (1 - ax) + get(x0 + 1, y0) * ax) * (1 - ay) +
                      (get(x0, y0 + 1) * (1 - ax) + get(x0 + 1, y0 + 1) * ax) * ay;
      const float ta = clampf(a, 0.0f, kMaxA) * (kSteps / kMaxA);
      const int ti = static_cast<int>(ta);
      float I = tone[ti] + (tone[ti + 1] - tone[ti]) * (ta - ti);
      // Quantum noise: Irwin-Hall sum of four 16-bit uniforms, ~N(0, 1).
      const uint64_t r = rng.next();
      const float z = (static_cast<float>((r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48)) / 65535.0f - 2.0f) * 1.7320508f;
      I += noise * z * (0.4f + 0.6f * I);
      out.pixels[static_cast<size_t>(j) * S + i] = static_cast<uint8_t>(clampf(I, 0.0f, 1.0f) * 255.0f + 0.5f);
    }
  }
  return out;
}

struct LobeSpot {
  float t;  // vertical fraction from apex (0) to dome (1)
  float s;  // lateral fraction from the mediastinal border (0) to the chest wall (1)
};
LobeSpot frontal_lobe_spot(Lobe lobe) {
  switch (lobe) {
    case Lobe::RightUpper: return {0.22f, 0.55f};
    case Lobe::RightMiddle: return {0.66f, 0.22f};
    case Lobe::RightLower: return {0.86f, 0.6f};
    case Lobe::LeftUpper: return {0.26f, 0.5f};
    case Lobe::Lingula: return {0.62f, 0.28f};
    case Lobe::LeftLower: return {0.86f, 0.58f};
  }
  return {0.5f, 0.5f};
}

// Lateral-view position (u anterior->posterior, v) of a lobe.
std::pair<float, float> lateral_lobe_spot(Lobe lobe) {
  switch (lobe) {
    case Lobe::RightUpper: return {0.47f, 0.27f};
    case Lobe::LeftUpper: return {0.42f, 0.25f};
    case Lobe::RightMiddle: return {0.3f, 0.5f};
    case Lobe::Lingula: return {0.33f, 0.47f};
    case Lobe::RightLower: return {0.66f, 0.6f};
    case Lobe::LeftLower: return {0.68f, 0.63f};
  }
  return {0.5f, 0.5f};
}

// A patchy consolidation/opacity: overlapping soft blobs modulated by noise, into `O`
// (fraction of air replaced), and, for consolidation, air bronchograms into `B`.
void airspace_disease(Layer& O, Layer& B, Rng& rng, float cu, float cv, float radius, float strength, bool bronchograms) {
  const int blobs = rng.range(3, 6);
  for (int b = 0; b < blobs; ++b) {
    const float du = static_cast<float>(rng.normal(0, radius * 0.45)), dv = static_cast<float>(rng.normal(0, radius * 0.4));
    const float r = radius * static_cast<float>(rng.uniform(0.45, 0.8));
    superellipse(O, cu + du, cv + dv, r, r * static_cast<float>(rng.uniform(0.7, 1.2)), static_cast<float>(rng.uniform(0, kPi)), 2.0f,
                 strength * static_cast<float>(rng.uniform(0.5, 0.8)), Blend::Add, 0.7f);
  }
  if (bronchograms) {
    for (int k = 0; k < 2; ++k) {
      const float a = static_cast<float>(rng.uniform(0, 2 * kPi));
      vessel_tree(B, rng, cu - 0.5f * radius * std::cos(a), cv - 0.5f * radius * std::sin(a), a, radius * 0.6f, 0.0035f, 0.5f, 2);
    }
  }
}

}  // namespace

PhantomAnatomy sample_anatomy(Rng& rng, const PhantomFindings& f) {
  PhantomAnatomy a;
  a.cx = 0.5 + rng.normal(0.0, 0.01);
  a.half_width = rng.uniform(0.33, 0.38);
  a.apex = rng.uniform(0.13, 0.17);
  a.dome_right = rng.uniform(0.64, 0.70);
  a.dome_left = a.dome_right + rng.uniform(0.008, 0.035);
  a.curvature = rng.uniform(0.24, 0.32);
  a.heart_top = rng.uniform(0.39, 0.43);
  a.mediastinum = rng.uniform(0.042, 0.055);
  a.rib_spacing = rng.uniform(0.049, 0.056);
  a.breasts = rng.chance(0.4);
  a.gastric_bubble = rng.chance(0.65);
  a.soft_tissue = rng.uniform(0.9, 1.1);
  if (f.hyperinflation) {
    const double drop = rng.uniform(0.06, 0.09);
    a.dome_right += drop;
    a.dome_left += drop;
    a.curvature *= 0.35;
    a.half_width *= 1.03;
    a.rib_spacing *= 1.08;
  }
  if (f.cardiomegaly) a.heart_top -= 0.02 * static_cast<int>(f.cardiomegaly_grade);
  if (f.widened_mediastinum) a.mediastinum *= rng.uniform(1.55, 1.8);
  return a;
}

Image render_frontal(const PhantomFindings& f, const PhantomAnatomy& an, int S, Rng& rng) {
  const float cx = static_cast<float>(an.cx), W = static_cast<float>(an.half_width), apex = static_cast<float>(an.apex);
  const float e = 0.7f / S;
  Layer A(S), M(S), O(S), B(S), Bone(S), Dev(S);

  // ---- Geometry of the two hemithoraces. side: -1 right lung (image left), +1 left lung.
  struct Hemi {
    float sign, dome, dome_u, cpa;
  };
  const Hemi hemi[2] = {{-1.0f, static_cast<float>(an.dome_right), cx - 0.5f * W, 0},
                        {+1.0f, static_cast<float>(an.dome_left), cx + 0.5f * W, 0}};
  const float curv = static_cast<float>(an.curvature);
  auto diaphragm = [&](const Hemi& h, float u) { return h.dome + curv * sq((u - h.dome_u) / W); };
  auto lateral_edge = [&](float v) {  // distance of the chest wall from the midline
    const float t = clampf((v - apex) / 0.32f, 0.0f, 1.0f);
    return W * (0.5f + 0.5f * std::sqrt(t));
  };
  // Heart: two half-ellipses joined at the midline; width = CTR * thoracic width, 1/3 right.
  const float heart_w = static_cast<float>(f.cardiothoracic_ratio) * 2.0f * W;
  const float heart_r = heart_w * 0.33f, heart_l = heart_w * 0.67f;
  const float heart_top = static_cast<float>(an.heart_top);
  const float heart_bottom = static_cast<float>(std::max(an.dome_right, an.dome_left)) + 0.05f;
  const float heart_cv = 0.5f * (heart_top + heart_bottom), heart_ry = 0.5f * (heart_bottom - heart_top);
  const float heart_cx = cx + 0.01f;
  auto mediastinal_edge = [&](float side, float v) {  // distance of the lung's medial border from the midline
    float m = static_cast<float>(an.mediastinum);
    if (side > 0) {
      m += 0.028f * std::exp(-sq((v - 0.30f) / 0.03f));   // aortic knob
      m += 0.016f * std::exp(-sq((v - 0.375f) / 0.025f));  // pulmonary artery
    } else {
      m += 0.008f * std::exp(-sq((v - 0.36f) / 0.05f));  // right hilum / SVC
    }
    const float dv = (v - heart_cv) / heart_ry;
    if (std::fabs(dv) < 1.0f) {
      const float q = std::sqrt(1.0f - dv * dv);
      const float h = side < 0 ? heart_r * q - (heart_cx - cx) : heart_l * q + (heart_cx - cx);
      m = std::max(m, h);
    }
    return m;
  };

  // ---- Findings drawn into layers before the pixel pass.
  // Opacity layer O: fraction of lung air replaced by fluid/tissue.
  auto lung_point = [&](int side_index, float t, float s) {  // (t, s) lung fractions -> (u, v)
    const Hemi& h = hemi[side_index];
    const float v = apex + t * (h.dome - apex);
    const float med = mediastinal_edge(h.sign, v), lat = lateral_edge(v);
    const float d = med + s * (lat - med);
    return std::pair<float, float>{cx + h.sign * d, v};
  };
  if (f.opacity) {
    const LobeSpot spot = frontal_lobe_spot(f.opacity_lobe);
    const auto [u, v] = lung_point(lobe_is_right(f.opacity_lobe) ? 0 : 1, spot.t, spot.s);
    const bool cons = f.opacity_kind != OpacityKind::Opacity;
    airspace_disease(O, B, rng, u, v, static_cast<float>(rng.uniform(0.055, 0.085)), cons ? 1.2f : 0.85f, cons);
  }
  if (f.nodule) {
    const LobeSpot spot = frontal_lobe_spot(f.nodule_lobe);
    const auto [u, v] = lung_point(lobe_is_right(f.nodule_lobe) ? 0 : 1, spot.t + static_cast<float>(rng.uniform(-0.08, 0.08)),
                                   clampf(spot.s + static_cast<float>(rng.uniform(-0.15, 0.2)), 0.25f, 0.8f));
    const float r = f.nodule_mm / 2.0f / 400.0f;
    superellipse(O, u, v, r, r, 0, 2.0f, 0.9f, Blend::Max);
  }
  if (f.atelectasis != Side::None) {
    for (int side = 0; side < 2; ++side) {
      if (f.atelectasis != Side::Both && (side == 0) != (f.atelectasis == Side::Right)) continue;
      const auto [u, v] = lung_point(side, static_cast<float>(rng.uniform(0.74, 0.84)), static_cast<float>(rng.uniform(0.35, 0.6)));
      const float len = static_cast<float>(rng.uniform(0.05, 0.08));
      const float tilt = static_cast<float>(rng.uniform(-0.25, 0.25)) + (side == 0 ? 0.1f : -0.1f);
      const float hw = std::max(static_cast<float>(rng.uniform(0.005, 0.009)), 1.0f / S);
      capsule(O, u - len * std::cos(tilt), v - len * std::sin(tilt), u + len * std::cos(tilt), v + len * std::sin(tilt), hw, hw,
              0.9f, Blend::Max);
    }
  }
  if (f.edema) {
    // Kerley B lines: short horizontal lines at the lateral lung bases.
    for (int side = 0; side < 2; ++side)
      for (int k = 0; k < 7; ++k) {
        const auto [u, v] = lung_point(side, static_cast<float>(rng.uniform(0.62, 0.9)), 0.97f);
        const float len = static_cast<float>(rng.uniform(0.015, 0.03));
        capsule(O, u, v, u - hemi[side].sign * len, v, 0.6f / S, 0.6f / S, 0.45f, Blend::Max);
      }
  }

  // Lung markings: vessel trees from each hilum.
  for (int side = 0; side < 2; ++side) {
    const float hs = hemi[side].sign;
    const float hu = cx + hs * 0.085f, hv = 0.43f;
    const int trunks = 4;
    for (int t = 0; t < trunks; ++t) {
      // Fan from up-lateral to down-lateral.
      const float base = -1.2f + 2.1f * (t + static_cast<float>(rng.uniform(0.1, 0.9))) / trunks;  // radians from horizontal
      const float angle = hs > 0 ? base : kPi - base;
      vessel_tree(M, rng, hu + static_cast<float>(rng.uniform(-0.015, 0.015)), hv + static_cast<float>(rng.uniform(-0.03, 0.03)), angle,
                  static_cast<float>(rng.uniform(0.06, 0.085)), 0.0065f, 0.14f, 5);
    }
  }

  // Devices (metal and catheters): Max blending, very dense.
  if (f.pacemaker) {
    const float gu = cx + W * static_cast<float>(rng.uniform(0.6, 0.75)), gv = static_cast<float>(rng.uniform(0.17, 0.23));
    superellipse(Dev, gu, gv, 0.034f, 0.025f, static_cast<float>(rng.uniform(-0.3, 0.3)), 4.0f, 3.0f, Blend::Max);
    superellipse(Dev, gu - 0.02f, gv + 0.005f, 0.012f, 0.009f, 0, 4.0f, 3.5f, Blend::Max);  // header
    const float r = std::max(0.0035f, 0.8f / S);
    // Leads: over the subclavian vein and SVC into the right atrium and right ventricle.
    polyline(Dev, bezier(gu - 0.02f, gv, cx + 0.08f, gv - 0.03f, cx - 0.02f, 0.26f, cx - 0.045f, 0.46f), r, 1.8f);
    polyline(Dev, bezier(gu - 0.02f, gv + 0.004f, cx + 0.1f, gv - 0.01f, cx - 0.03f, 0.3f, heart_cx + 0.06f, heart_cv + 0.06f), r,
             1.8f);
  }
  if (f.central_line) {
    const float r = std::max(0.003f, 0.7f / S);
    if (f.central_line_side == Side::Right)
      polyline(Dev, bezier(cx - 0.13f, 0.0f, cx - 0.09f, 0.12f, cx - 0.04f, 0.2f, cx - 0.035f, 0.37f), r, 1.1f);
    else
      polyline(Dev, bezier(cx + 0.13f, 0.0f, cx + 0.09f, 0.16f, cx - 0.02f, 0.2f, cx - 0.035f, 0.37f), r, 1.1f);
  }

  // Bones: clavicles, humeral heads.
  for (int side = 0; side < 2; ++side) {
    const float hs = hemi[side].sign;
    polyline(Bone, bezier(cx + hs * 0.03f, apex + 0.025f, cx + hs * 0.13f, apex - 0.005f, cx + hs * 0.22f, apex - 0.01f,
                          cx + hs * (W + 0.02f), apex - 0.055f),
             0.011f, 0.32f);
    superellipse(Bone, cx + hs * (W + 0.1f), apex - 0.03f, 0.055f, 0.06f, 0, 2.0f, 0.3f, Blend::Max, 0.3f);
  }
  if (an.breasts)
    for (int side = 0; side < 2; ++side) superellipse(A, cx + hemi[side].sign * 0.6f * W, 0.7f, 0.15f, 0.12f, 0, 2.0f, 0.1f, Blend::Add, 0.5f);
  // Hila and main bronchi (air: negative attenuation).
  for (int side = 0; side < 2; ++side) {
    gaussian(A, cx + hemi[side].sign * 0.09f, 0.43f, 0.022f, 0.03f, 0.12f);
    capsule(A, cx, 0.33f, cx + hemi[side].sign * 0.07f, 0.41f + 0.015f * side, 0.009f, 0.007f, -0.15f);
  }

  // Posterior ribs: centre line per column, for 10 ribs per side.
  const int n_ribs = 10;
  std::vector<float> rib_v(static_cast<size_t>(n_ribs) * S);
  std::vector<float> rib_x(S);
  for (int i = 0; i < S; ++i) rib_x[i] = std::fabs((i + 0.5f) / S - cx) / W;
  const int fx_rib = f.rib_fracture ? f.rib_fracture_rib - 1 : -1;
  const float fx_sign = f.rib_fracture_side == Side::Right ? -1.0f : 1.0f;
  const float fx_x = static_cast<float>(rng.uniform(0.72, 0.92));  // lateral, over the lung
  const float spacing = static_cast<float>(an.rib_spacing);
  for (int r = 0; r < n_ribs; ++r)
    for (int i = 0; i < S; ++i) {
      const float x = rib_x[i];
      rib_v[static_cast<size_t>(r) * S + i] = apex - 0.02f + r * spacing + (-0.07f * x + 0.19f * x * x) * (1.0f + 0.04f * r);
    }

  // Texture of lung parenchyma.
  ValueNoise coarse(rng, 8), fine(rng, 28);
  // Pneumothorax geometry.
  const int ptx_side = f.pneumothorax == Side::Right ? 0 : (f.pneumothorax == Side::Left ? 1 : -1);
  const float ptx_gap = f.pneumothorax == Side::None ? 0.0f
                        : (f.pneumothorax_grade == Grade::Mild ? static_cast<float>(rng.uniform(0.02, 0.035))
                                                               : static_cast<float>(rng.uniform(0.07, 0.1)));
  // Effusion heights (fraction of the hemithorax height) per side.
  float eff_b[2] = {0, 0}, eff_c[2] = {0, 0};
  if (f.effusion != Side::None) {
    // Fluid level above the dome: medially `b`, rising by `c` to the chest wall (meniscus).
    const float b = f.effusion_grade == Grade::Mild ? 0.05f : (f.effusion_grade == Grade::Moderate ? -0.05f : -0.17f);
    const float c = f.effusion_grade == Grade::Mild ? 0.065f : (f.effusion_grade == Grade::Moderate ? 0.09f : 0.1f);
    for (int side = 0; side < 2; ++side)
      if (f.effusion == Side::Both || (side == 0) == (f.effusion == Side::Right)) {
        const float jitter = static_cast<float>(rng.uniform(-0.015, 0.015));
        eff_b[side] = b + jitter;
        eff_c[side] = c;
      }
  }
  const int cap_side = f.pleural_thickening == Side::Right ? 0 : (f.pleural_thickening == Side::Left ? 1 : -1);
  const float cap_th = static_cast<float>(rng.uniform(0.012, 0.022));
  const float edema = f.edema ? (f.edema_grade == Grade::Mild ? 0.32f : 0.55f) : 0.0f;
  const float soft = static_cast<float>(an.soft_tissue);
  const float bubble_u = cx + 0.55f * W, bubble_v = static_cast<float>(an.dome_left) + 0.045f;

  const float lateral_apex = lateral_edge(apex);
  for (int j = 0; j < S; ++j) {
    const float v = (j + 0.5f) / S;
    const float lat = lateral_edge(v);
    const float med[2] = {mediastinal_edge(-1.0f, v), mediastinal_edge(1.0f, v)};
    // Body outline: neck, shoulders, chest wall.
    const float shoulder = smoothstep(apex - 0.11f, apex - 0.03f, v);
    const float body_half = 0.085f + (W + 0.17f - 0.085f) * shoulder - 0.1f * smoothstep(apex, apex + 0.25f, v) * shoulder +
                            0.02f * smoothstep(0.5f, 1.0f, v);
    for (int i = 0; i < S; ++i) {
      const float u = (i + 0.5f) / S;
      const float dx = std::fabs(u - cx);
      float a = 0.0f;
      // Soft tissue.
      const float inside_body = smoothstep(body_half + e, body_half - e, dx);
      a += soft * inside_body * (0.38f + 0.42f * std::sqrt(std::max(0.0f, 1.0f - sq(dx / (body_half + 1e-6f)))));
      // Lungs.
      const int side = u < cx ? 0 : 1;
      const Hemi& h = hemi[side];
      const float d_lat = lat - dx;                // to the chest wall
      const float d_med = dx - med[side];          // to the mediastinum / heart
      const float mid = 0.5f * (lateral_apex + med[side]);
      const float top = apex + 5.0f * sq(dx - mid);
      const float d_top = v - top;                 // below the apex
      const float dia = diaphragm(h, u);
      const float d_dia = dia - v;                 // above the diaphragm
      const float d = std::min(std::min(d_lat, d_med), std::min(d_top, d_dia));
      float lung = smoothstep(-e, e, d);
      float air = 0.0f, marks = 0.0f;
      if (lung > 0.0f) {
        const float depth = clampf(d / 0.06f, 0.0f, 1.0f);
        air = lung * (0.6f + 0.4f * depth);
        // Effusion: fluid above the diaphragm, rising towards the chest wall (meniscus).
        if (eff_c[side] > 0.0f) {
          const float lf = clampf(d_med / std::max(lat - med[side], 1e-3f), 0.0f, 1.0f);
          const float level = h.dome + eff_b[side] - eff_c[side] * lf * lf;
          const float fluid = smoothstep(level - 0.008f, level + 0.02f, v);
          air *= 1.0f - 0.97f * fluid;
          a += 0.05f * fluid * lung;
        }
        // Apical pleural thickening.
        if (side == cap_side) {
          const float capm = smoothstep(cap_th + e, cap_th - e, d_top);
          air *= 1.0f - capm;
        }
        // Edema: perihilar haze.
        const float haze = edema > 0.0f ? edema * std::exp(-(sq((dx - 0.1f) / 0.15f) + sq((v - 0.45f) / 0.16f))) : 0.0f;
        air *= 1.0f - haze;
        // Consolidation, nodules, atelectasis, Kerley lines; air bronchograms restore air.
        const float o = clampf(O.at(i, j), 0.0f, 1.0f);
        air *= 1.0f - o * (1.0f - 0.7f * clampf(B.at(i, j), 0.0f, 1.0f));
        // Lung markings and texture.
        marks = M.at(i, j) * (1.0f + 1.5f * haze) * (1.0f - o) +
                0.035f * coarse.at(u, v) + 0.025f * fine.at(u, v);
        // Pneumothorax: no markings beyond the visceral pleural line, more air.
        if (side == ptx_side) {
          const float t = clampf((v - apex) / (h.dome - apex), 0.0f, 1.0f);
          const float gap = ptx_gap * (1.0f - 0.55f * t);
          const float rim = std::min(d_lat, d_top);
          const float out = smoothstep(gap + e, gap - e, rim);
          const float line = std::exp(-sq((rim - gap) / std::max(0.0025f, 0.6f / S)));
          marks *= 1.0f - out;
          air = air * (1.0f - out) * 0.93f + out * lung * 1.05f;
          a += 0.22f * line * lung * (1.0f - out);
        }
        a += marks * lung;
      }
      a *= 1.0f - 0.7f * clampf(air, 0.0f, 1.1f);
      // Diaphragm / abdomen: soft tissue below; a gastric bubble under the left dome.
      if (an.gastric_bubble && side == 1 && v > dia)
        a -= 0.35f * smoothstep(1.0f + 0.1f, 0.9f, std::sqrt(sq((u - bubble_u) / 0.05f) + sq((v - bubble_v) / 0.024f))) *
             smoothstep(dia, dia + 0.01f, v);
      // Trachea.
      if (v < 0.345f) a -= 0.26f * smoothstep(0.016f + e, 0.016f - e, std::fabs(u - cx - 0.004f)) * smoothstep(0.345f, 0.32f, v);
      // Spine (seen through the mediastinum), vertebrae and discs.
      const float spine = smoothstep(0.032f + e, 0.032f - e, dx);
      a += spine * (0.16f + 0.05f * std::cos(2.0f * kPi * (v - apex) / 0.045f));
      // Ribs.
      const float x = rib_x[i];
      if (x > 0.06f && x < 1.06f && v < 0.9f) {
        const float fade = smoothstep(1.06f, 0.98f, x) * smoothstep(0.06f, 0.14f, x);
        for (int r = 0; r < n_ribs; ++r) {
          float c = rib_v[static_cast<size_t>(r) * S + i];
          float hw = 0.0105f + 0.0006f * r;
          float extra = 0.0f;
          if (r == fx_rib && (u - cx) * fx_sign > 0) {  // healed fracture: callus and a small step
            const float g = std::exp(-sq((x - fx_x) / 0.035f));
            hw *= 1.0f + 1.1f * g;
            extra = 0.18f * g;
            if (x > fx_x) c += 0.004f;
          }
          const float dv = std::fabs(v - c);
          if (dv > hw + e) continue;
          const float cortex = 0.075f + 0.075f * sq(dv / hw);
          a += fade * (cortex + extra) * smoothstep(hw + e, hw - e, dv);
        }
        // Anterior ribs: fainter, running down and medially from the chest wall.
        for (int r = 0; r < 7; ++r) {
          const float c = apex + 0.06f + r * spacing * 1.3f + 0.17f * (1.0f - x);
          const float dv = std::fabs(v - c);
          if (x < 0.3f || dv > 0.013f + e) continue;
          a += 0.035f * fade * smoothstep(0.013f + e, 0.013f - e, dv);
        }
      }
      a += Bone.at(i, j) + Dev.at(i, j) + A.at(i, j);
      A.at(i, j) = a;
    }
  }
  return expose(A, rng);
}

Image render_lateral(const PhantomFindings& f, const PhantomAnatomy& an, int S, Rng& rng) {
  const float e = 0.7f / S;
  Layer A(S), M(S), O(S), B(S), Bone(S), Dev(S);
  const bool hyper = f.hyperinflation;
  const float apex = static_cast<float>(an.apex) - 0.02f;
  const float dome = static_cast<float>(an.dome_right) - 0.02f;
  const float flat = static_cast<float>(an.curvature) / 0.28f;
  const float ant = hyper ? 0.14f : 0.17f;  // anterior chest wall
  const float post = 0.86f;                 // posterior chest wall
  // Two hemidiaphragms: higher anteriorly, descending into the posterior sulcus.
  auto diaphragm = [&](float u, int k) {
    const float base = dome + 0.022f * k;
    return u < 0.42f ? base + 0.25f * flat * sq(0.42f - u) : base + 0.45f * flat * sq(u - 0.42f);
  };
  const float heart_scale = static_cast<float>(f.cardiothoracic_ratio) / 0.43f;
  const float heart_u = 0.33f + 0.04f * (heart_scale - 1.0f), heart_v = dome - 0.07f;
  const float heart_rx = 0.13f * heart_scale, heart_ry = 0.15f * (0.6f + 0.4f * heart_scale);

  if (f.opacity) {
    auto [u, v] = lateral_lobe_spot(f.opacity_lobe);
    const bool cons = f.opacity_kind != OpacityKind::Opacity;
    airspace_disease(O, B, rng, u, v, static_cast<float>(rng.uniform(0.06, 0.09)), cons ? 1.1f : 0.8f, cons);
  }
  if (f.nodule) {
    auto [u, v] = lateral_lobe_spot(f.nodule_lobe);
    const float r = f.nodule_mm / 2.0f / 400.0f;
    superellipse(O, u + static_cast<float>(rng.uniform(-0.05, 0.05)), v + static_cast<float>(rng.uniform(-0.05, 0.05)), r, r, 0,
                 2.0f, 0.85f, Blend::Max);
  }
  if (f.atelectasis != Side::None) {
    const int bands = f.atelectasis == Side::Both ? 2 : 1;
    for (int k = 0; k < bands; ++k) {
      const float u = static_cast<float>(rng.uniform(0.45, 0.65)), v = dome - static_cast<float>(rng.uniform(0.03, 0.08));
      const float len = static_cast<float>(rng.uniform(0.06, 0.09)), tilt = static_cast<float>(rng.uniform(-0.3, 0.1));
      const float hw = std::max(0.006f, 1.0f / S);
      capsule(O, u - len * std::cos(tilt), v - len * std::sin(tilt), u + len * std::cos(tilt), v + len * std::sin(tilt), hw, hw, 0.85f,
              Blend::Max);
    }
  }
  for (int t = 0; t < 6; ++t) {
    const float angle = -2.6f + 4.0f * (t + static_cast<float>(rng.uniform(0.1, 0.9))) / 6;
    vessel_tree(M, rng, 0.52f + static_cast<float>(rng.uniform(-0.02, 0.02)), 0.43f + static_cast<float>(rng.uniform(-0.02, 0.02)), angle,
                static_cast<float>(rng.uniform(0.06, 0.085)), 0.006f, 0.1f, 5);
  }
  if (f.pacemaker) {
    const float gu = 0.13f, gv = static_cast<float>(rng.uniform(0.18, 0.24));
    superellipse(Dev, gu, gv, 0.018f, 0.034f, 0.2f, 4.0f, 3.0f, Blend::Max);
    const float r = std::max(0.0035f, 0.8f / S);
    polyline(Dev, bezier(gu + 0.01f, gv, 0.3f, gv - 0.08f, 0.45f, 0.3f, heart_u + 0.05f, heart_v - 0.06f), r, 1.8f);
    polyline(Dev, bezier(gu + 0.01f, gv + 0.01f, 0.32f, gv - 0.06f, 0.43f, 0.35f, heart_u - 0.04f, heart_v + 0.06f), r, 1.8f);
  }
  if (f.central_line) {
    const float r = std::max(0.003f, 0.7f / S);
    polyline(Dev, bezier(0.5f, 0.0f, 0.49f, 0.12f, 0.47f, 0.22f, 0.45f, 0.36f), r, 1.1f);
  }
  // Arms raised in front of the face: soft tissue with a humerus.
  for (int k = 0; k < 2; ++k) {
    const float o = 0.03f * k;
    capsule(A, 0.3f + o, 0.16f, 0.14f + o, -0.1f, 0.05f, 0.045f, 0.1f);
    capsule(Bone, 0.29f + o, 0.15f, 0.14f + o, -0.08f, 0.014f, 0.012f, 0.14f, Blend::Max);
  }
  // Sternum, trachea, hilum, aortic arch.
  capsule(Bone, ant + 0.025f, apex + 0.12f, ant + 0.04f, dome - 0.1f, 0.01f, 0.009f, 0.12f, Blend::Max);
  capsule(A, 0.47f, 0.0f, 0.53f, 0.37f, 0.018f, 0.016f, -0.24f);
  gaussian(A, 0.52f, 0.43f, 0.035f, 0.04f, 0.14f);
  polyline(A, bezier(0.4f, 0.38f, 0.42f, 0.22f, 0.62f, 0.2f, 0.68f, 0.42f), 0.016f, 0.035f);
  if (f.widened_mediastinum) gaussian(A, 0.42f, 0.27f, 0.06f, 0.06f, 0.2f);
  // Lateral ribs (faint oblique arcs).
  for (int r = 0; r < 9; ++r) {
    const float v0 = apex + 0.05f + r * static_cast<float>(an.rib_spacing) * 1.15f;
    polyline(Bone, bezier(post + 0.02f, v0, 0.7f, v0 + 0.02f, 0.45f, v0 + 0.09f, ant + 0.02f, v0 + 0.2f), 0.009f, 0.045f);
  }

  ValueNoise coarse(rng, 8), fine(rng, 28);
  float eff_h = 0.0f;
  if (f.effusion != Side::None) {
    eff_h = f.effusion_grade == Grade::Mild ? 0.05f : (f.effusion_grade == Grade::Moderate ? 0.13f : 0.25f);
    if (f.effusion == Side::Both) eff_h *= 1.2f;
  }
  const float edema = f.edema ? (f.edema_grade == Grade::Mild ? 0.3f : 0.5f) : 0.0f;
  const float soft = static_cast<float>(an.soft_tissue) * 1.12f;
  const float cap_th = f.pleural_thickening != Side::None ? 0.015f : 0.0f;

  for (int j = 0; j < S; ++j) {
    const float v = (j + 0.5f) / S;
    const float neck = smoothstep(apex - 0.1f, apex, v);
    const float body_a = 0.1f + (1.0f - neck) * 0.2f, body_p = 0.95f - (1.0f - neck) * 0.12f;
    const float lung_a = ant + 0.035f + 0.05f * smoothstep(0.5f, apex, v);
    const float lung_p = post - 0.07f;
    for (int i = 0; i < S; ++i) {
      const float u = (i + 0.5f) / S;
      float a = 0.0f;
      const float in_body = smoothstep(-e, e, std::min(u - body_a, body_p - u));
      a += soft * in_body * (0.45f + 0.35f * std::sqrt(std::max(0.0f, 1.0f - sq((u - 0.53f) / 0.45f))));
      // Lungs (both, superimposed): between sternum and spine, apex to diaphragms.
      const float top = apex + 3.5f * sq(u - 0.5f);
      const float d_box = std::min(std::min(u - lung_a, lung_p - u), v - top);
      const float d1 = std::min(d_box, diaphragm(u, 0) - v), d2 = std::min(d_box, diaphragm(u, 1) - v);
      // Heart (anterior, inferior) displaces lung.
      const float hd = std::sqrt(sq((u - heart_u) / heart_rx) + sq((v - heart_v) / heart_ry));
      const float heart = smoothstep(1.0f - 0.02f, 1.0f + 0.02f, hd);  // 0 inside the heart
      float lung = 0.5f * (smoothstep(-e, e, d1) + smoothstep(-e, e, d2)) * heart;
      if (lung > 0.0f) {
        const float depth = clampf(std::max(d1, d2) / 0.06f, 0.0f, 1.0f);
        float air = lung * (0.6f + 0.4f * depth);
        if (eff_h > 0.0f) {
          const float pf = clampf((u - 0.35f) / (lung_p - 0.35f), 0.0f, 1.0f);
          const float level = diaphragm(lung_p, 1) - 0.03f - eff_h * (0.2f + 0.8f * pf * pf);
          air *= 1.0f - 0.95f * smoothstep(level - 0.008f, level + 0.02f, v);
        }
        if (cap_th > 0.0f) air *= smoothstep(cap_th - e, cap_th + e, v - top);
        const float haze = edema > 0.0f ? edema * std::exp(-(sq((u - 0.52f) / 0.16f) + sq((v - 0.45f) / 0.16f))) : 0.0f;
        air *= 1.0f - haze;
        const float o = clampf(O.at(i, j), 0.0f, 1.0f);
        air *= 1.0f - o * (1.0f - 0.7f * clampf(B.at(i, j), 0.0f, 1.0f));
        a += lung * (M.at(i, j) * (1.0f + 1.5f * haze) * (1.0f - o) + 0.03f * coarse.at(u, v) + 0.022f * fine.at(u, v));
        a *= 1.0f - 0.55f * clampf(air, 0.0f, 1.1f);
      }
      // Spine: vertebral bodies with disc spaces, posterior elements.
      if (u > post - 0.06f) {
        const float body = smoothstep(-e, e, std::min(u - (post - 0.05f), post + 0.035f - u));
        const float phase = std::fmod(v + 1.0f, 0.058f) / 0.058f;
        const float disc = smoothstep(0.0f, 0.08f, phase) * smoothstep(1.0f, 0.84f, phase);
        a += body * (0.12f + 0.22f * disc);
        a += 0.1f * smoothstep(-e, e, std::min(u - (post + 0.04f), post + 0.09f - u));
      }
      a += Bone.at(i, j) + Dev.at(i, j) + A.at(i, j);
      A.at(i, j) = a;
    }
  }
  return expose(A, rng);
}

}  // namespace emrrg::data
