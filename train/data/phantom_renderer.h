// Renders synthetic chest radiographs ("phantoms") of a study with known findings: a PA
// frontal view and a lateral-like view, 8-bit grey, size x size.
//
// The image is built as an attenuation map, then exposed: I = 1 - exp(-k * A) with a random
// exposure k, gamma and offset, Gaussian quantum noise, and a small random rotation, scale and
// shift of the patient. The attenuation map holds body soft tissue (thicker centrally, with
// shoulders, neck, humeral heads and sometimes breast shadows), the two lungs as air (carved
// out between the rib cage, the mediastinum, the heart and the hemidiaphragms, with the
// costophrenic angles), lung markings (vessel trees branching from the hila, plus texture),
// trachea and main bronchi, hila, spine, clavicles, posterior and anterior ribs, a gastric
// bubble. Findings change that anatomy where a reader would see them (docs/DATA.md lists how).
#pragma once
#include "train/data/image.h"
#include "train/data/phantom_findings.h"
#include "train/data/rng.h"

namespace emrrg::data {

// Normal anatomical variation of one patient, drawn once per study and shared by both views.
struct PhantomAnatomy {
  double cx = 0.5;             // midline
  double half_width = 0.35;    // thoracic half-width (rib cage at the bases)
  double apex = 0.15;          // lung apices
  double dome_right = 0.67;    // right hemidiaphragm dome
  double dome_left = 0.69;     // left hemidiaphragm dome (usually lower)
  double curvature = 0.28;     // diaphragm dome curvature
  double heart_top = 0.41;
  double mediastinum = 0.048;  // upper mediastinal half-width
  double rib_spacing = 0.052;
  bool breasts = false;
  bool gastric_bubble = true;
  double soft_tissue = 1.0;    // body attenuation scale
};

PhantomAnatomy sample_anatomy(Rng& rng, const PhantomFindings& findings);

Image render_frontal(const PhantomFindings& findings, const PhantomAnatomy& anatomy, int size, Rng& rng);
Image render_lateral(const PhantomFindings& findings, const PhantomAnatomy& anatomy, int size, Rng& rng);

}  // namespace emrrg::data
