#include "train/emrrg_demo.h"

#include <sys/resource.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <ostream>

#include "train/checkpoint.h"
#include "train/data/demo_data.h"
#include "train/data/image_io.h"
#include "train/metrics_table.h"

namespace emrrg::train {
namespace {

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// best.json's checkpoint, else the newest one.
std::string best_checkpoint(const std::string& run_dir) {
  const std::filesystem::path best = std::filesystem::path(run_dir) / "best.json";
  if (std::filesystem::exists(best))
    return nlohmann::json::parse(data::read_file_bytes(best.string()))["checkpoint"].get<std::string>();
  const std::vector<std::string> all = list_checkpoints((std::filesystem::path(run_dir) / "checkpoints").string());
  if (all.empty()) throw std::runtime_error("demo: no checkpoint under '" + run_dir + "'");
  return all.front();
}

}  // namespace

EmrrgDemoResult run_emrrg_demo(const EmrrgDemoOptions& o, std::ostream& log) {
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = process_cpu_seconds();
  const std::string annotation = (std::filesystem::path(o.data_dir) / "annotation.json").string();
  if (!std::filesystem::exists(annotation)) {
    data::DemoDataConfig d;
    d.out_dir = o.data_dir;
    d.n = o.studies;
    d.size = o.image_size;
    const data::DemoDataSummary s = data::make_demo_data(d);
    log << "demo: made " << s.n << " phantom studies (" << s.train << " train, " << s.val << " val, " << s.test
        << " test) at " << o.image_size << " px in " << o.data_dir << "\n";
  }
  // The tokenizer sits beside the config, wherever the program runs from.
  const std::filesystem::path tokenizer = std::filesystem::path(o.config_path).parent_path() / "demo_tokenizer.model";
  std::vector<std::string> overrides = {"data.annotation=\"" + annotation + "\"",
                                        "llm.tokenizer=\"" + tokenizer.string() + "\""};
  overrides.insert(overrides.end(), o.overrides.begin(), o.overrides.end());

  EmrrgDemoResult r;
  TrainRunOptions t;
  t.config_path = o.config_path;
  t.overrides = overrides;
  t.resume_dir = o.out_dir;  // a second demo continues (or just tests) the first one's run
  t.device = o.device;
  r.state = run_training(t, log);

  TestRunOptions test;
  test.config_path = o.config_path;
  test.overrides = overrides;
  test.weights = best_checkpoint(o.out_dir);
  test.reports_path = (std::filesystem::path(o.out_dir) / "test_reports.jsonl").string();
  test.device = o.device;
  r.test = run_test(test, log);
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.cpu_seconds = process_cpu_seconds() - cpu_start;

  log << "\ndemo: test split, " << test.weights << " (reports beside their references in " << test.reports_path
      << ")\n";
  std::vector<std::pair<std::string, Metrics>> columns = {{"EMRRG", r.test.metrics}};
  columns.insert(columns.end(), r.test.baselines.begin(), r.test.baselines.end());
  print_metrics_table(log, columns);
  log << "demo: " << r.wall_seconds << " s wall clock on " << o.device.str() << ", " << r.cpu_seconds << " s of CPU\n";
  return r;
}

}  // namespace emrrg::train
