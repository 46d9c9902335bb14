#include "train/data/demo_data.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

#include "train/data/image_io.h"
#include "train/data/phantom_renderer.h"
#include "train/data/phantom_report.h"
#include "train/data/rng.h"

namespace emrrg::data {

namespace fs = std::filesystem;

std::string phantom_study_id(int index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "phantom_%05d", index);
  return buf;
}

PhantomStudy make_phantom_study(uint64_t seed, int index, int size) {
  if (size < 16 || size > 4096) throw std::invalid_argument("phantom size must be in 16..4096, got " + std::to_string(size));
  // Independent streams, so that e.g. the report wording does not depend on the renderer.
  const uint64_t idx = static_cast<uint64_t>(index);
  Rng findings_rng(mix_seed({seed, idx, 1}));
  Rng report_rng(mix_seed({seed, idx, 2}));
  Rng anatomy_rng(mix_seed({seed, idx, 3}));
  Rng frontal_rng(mix_seed({seed, idx, 4}));
  Rng lateral_rng(mix_seed({seed, idx, 5}));
  PhantomStudy s;
  s.id = phantom_study_id(index);
  s.findings = sample_findings(findings_rng);
  s.report = write_phantom_report(s.findings, report_rng);
  const PhantomAnatomy anatomy = sample_anatomy(anatomy_rng, s.findings);
  s.frontal = render_frontal(s.findings, anatomy, size, frontal_rng);
  s.lateral = render_lateral(s.findings, anatomy, size, lateral_rng);
  return s;
}

DemoDataSummary make_demo_data(const DemoDataConfig& config) {
  if (config.out_dir.empty()) throw std::invalid_argument("make_demo_data: no output directory");
  if (config.n < 1 || config.n > 10'000'000) throw std::invalid_argument("number of studies must be in 1..10000000, got " + std::to_string(config.n));
  if (config.size < 16 || config.size > 4096) throw std::invalid_argument("image size must be in 16..4096, got " + std::to_string(config.size));
  const auto start = std::chrono::steady_clock::now();
  const fs::path root(config.out_dir);
  const fs::path images = root / "images";
  std::error_code ec;
  fs::create_directories(images, ec);
  if (ec) throw std::runtime_error("cannot create '" + images.string() + "': " + ec.message());

  const int n = config.n;
  const int n_train = static_cast<int>(static_cast<long long>(n) * 7 / 10);
  const int n_val = n / 10;
  auto split_of = [&](int i) { return i < n_train ? "train" : (i < n_train + n_val ? "val" : "test"); };

  std::vector<nlohmann::ordered_json> entries(static_cast<size_t>(n));
  std::vector<std::array<int, 14>> labels(static_cast<size_t>(n));
  std::atomic<int> next{0};
  std::mutex error_mutex;
  std::exception_ptr error;
  auto work = [&] {
    for (;;) {
      const int i = next.fetch_add(1);
      if (i >= n) return;
      {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (error) return;
      }
      try {
        const PhantomStudy s = make_phantom_study(config.seed, i, config.size);
        const fs::path dir = images / s.id;
        std::error_code dir_ec;
        fs::create_directories(dir, dir_ec);
        if (dir_ec) throw std::runtime_error("cannot create '" + dir.string() + "': " + dir_ec.message());
        write_png((dir / "0.png").string(), s.frontal, PngCompression::Store);
        write_png((dir / "1.png").string(), s.lateral, PngCompression::Store);
        nlohmann::ordered_json e;
        e["id"] = s.id;
        e["report"] = s.report;
        e["image_path"] = {s.id + "/0.png", s.id + "/1.png"};
        e["split"] = split_of(i);
        const auto l = s.findings.chexpert_labels();
        e["labels"] = l;
        e["findings"] = nlohmann::ordered_json::parse(s.findings.to_json());
        e["views"] = {"PA", "LATERAL"};
        entries[static_cast<size_t>(i)] = std::move(e);
        labels[static_cast<size_t>(i)] = l;
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        return;
      }
    }
  };
  int threads = config.threads > 0 ? config.threads : static_cast<int>(std::thread::hardware_concurrency());
  threads = std::max(1, std::min(threads, n));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);

  nlohmann::ordered_json root_json;
  root_json["info"] = {{"name", "emrrg phantom chest X-ray data set"},
                       {"generator", "emrrg make-demo-data"},
                       {"version", 1},
                       {"seed", config.seed},
                       {"studies", n},
                       {"image_size", config.size},
                       {"labels", std::vector<std::string>(kChexpertNames.begin(), kChexpertNames.end())},
                       {"report_style", "IU X-ray findings; clean with iu_xray"}};
  DemoDataSummary summary;
  summary.n = n;
  for (const char* split : {"train", "val", "test"}) root_json[split] = nlohmann::ordered_json::array();
  for (int i = 0; i < n; ++i) {
    const std::string split = split_of(i);
    root_json[split].push_back(std::move(entries[static_cast<size_t>(i)]));
    (split == "train" ? summary.train : split == "val" ? summary.val : summary.test)++;
    for (int k = 0; k < 14; ++k) summary.label_counts[k] += labels[static_cast<size_t>(i)][k];
  }
  const fs::path ann = root / "annotation.json";
  const std::string text = root_json.dump(1) + "\n";
  std::ofstream out(ann, std::ios::binary);
  if (!out) throw std::runtime_error("cannot create '" + ann.string() + "'");
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!out) throw std::runtime_error("cannot write '" + ann.string() + "'");
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace emrrg::data
