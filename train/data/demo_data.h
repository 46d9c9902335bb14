// The built-in phantom data set: `emrrg make-demo-data` writes synthetic chest radiographs
// (two views per study) and an R2Gen-layout annotation.json, so the whole pipeline can run,
// train and be evaluated with no download.
//
// Layout of DIR:
//   annotation.json             {"info": {...}, "train": [...], "val": [...], "test": [...]}
//   images/<id>/0.png, 1.png    frontal (PA) and lateral views, 8-bit grey PNG, size x size
// Entries: id, report, image_path ["<id>/0.png", "<id>/1.png"], split, labels (14 CheXpert
// observations, 0/1), findings (what was drawn), views. Split 70/10/20 by study index.
// Everything is a function of (seed, study index, size): the same seed gives the same bytes,
// whatever the number of threads.
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "train/data/image.h"
#include "train/data/phantom_findings.h"

namespace emrrg::data {

struct PhantomStudy {
  std::string id;
  PhantomFindings findings;
  std::string report;
  Image frontal;
  Image lateral;
};

// One study, rendered at size x size.
PhantomStudy make_phantom_study(uint64_t seed, int index, int size);
std::string phantom_study_id(int index);  // "phantom_00042"

struct DemoDataConfig {
  std::string out_dir;
  int n = 2000;
  int size = 224;
  uint64_t seed = 0;
  int threads = 0;  // 0: all hardware threads
};

struct DemoDataSummary {
  int n = 0, train = 0, val = 0, test = 0;
  std::array<int, 14> label_counts{};  // studies with each CheXpert label positive
  double seconds = 0;
};

// Writes the data set; throws std::runtime_error naming the path on I/O errors.
DemoDataSummary make_demo_data(const DemoDataConfig& config);

}  // namespace emrrg::data
