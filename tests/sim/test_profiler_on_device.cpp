// The op profiler on the CUDA backend: kernels and cuBLAS calls of MLP demo steps are timed with
// events on their stream, laid out on a device track, and attributed to the op that launched
// them; the caching allocator's statistics form a counter track.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cuda/cuda_backend.h"
#include "cuda/kernel_registration.h"
#include "runtime/profiler.h"
#include "train/mlp_demo.h"

namespace emrrg {
namespace {

TEST(ProfilerOnDevice, KernelsAreTimedOnTheirTrackAndBelongToTheirOps) {
  cuda::register_cuda_backend();
  cuda::register_cuda_kernels();
  const std::string path = (std::filesystem::temp_directory_path() / "emrrg_profile_on_device.json").string();
  train::MlpDemoOptions o;
  o.steps = 4;
  o.points_per_class = 20;
  o.hidden = 8;
  o.log_every = 100;
  o.device = Device::cuda(0);
  std::ostringstream log;
  profiler::Summary summary;
  {
    profiler::Session session({path, 1, 2});
    o.profile = &session;
    train::run_mlp_demo(o, log);
    summary = session.finish();
  }
  std::ifstream f(path);
  const nlohmann::json trace = nlohmann::json::parse(f);
  std::remove(path.c_str());
  std::map<int64_t, std::string> event_of_id;
  std::vector<std::pair<std::string, nlohmann::json>> kernels;  // name, args
  bool device_track = false, cuda_memory = false;
  for (const nlohmann::json& e : trace["traceEvents"]) {
    if (e.at("ph") == "M" && e.at("pid") == 2 && e.at("name") == "thread_name")
      device_track = e.at("args").at("name").get<std::string>().rfind("cuda:0 stream", 0) == 0;
    if (e.at("ph") == "C" && e.at("name") == "cuda:0 memory (MiB)") cuda_memory = true;
    if (e.at("ph") != "X") continue;
    if (e.at("cat") == "kernel") {
      EXPECT_EQ(e.at("pid"), 2);
      EXPECT_GE(e.at("dur").get<double>(), 0);
      kernels.emplace_back(e.at("name"), e.at("args"));
    } else {
      event_of_id[e.at("args").at("id")] = e.at("name");
      if (e.at("cat") == "op") {
        EXPECT_EQ(e.at("args").at("device"), "cuda:0") << e.at("name");
      }
    }
  }
  EXPECT_TRUE(device_track);
  EXPECT_TRUE(cuda_memory);
  ASSERT_FALSE(kernels.empty());
  std::set<std::string> gemm_ops;
  for (const auto& [name, args] : kernels) {
    // Its op, or where no op event follows before a range boundary (the optimiser's fused
    // step), the range it ran in.
    const int64_t op = args.at("op_id"), range = args.at("range_id");
    const int64_t owner = event_of_id.count(op) ? op : range;
    ASSERT_TRUE(event_of_id.count(owner)) << "kernel " << name << " belongs to no traced event";
    if (name == "cublas_gemm") gemm_ops.insert(event_of_id[owner]);
  }
  // Forward products run inside matmul's own range; the backward's in the backward closure of
  // matmul (a range of that name too).
  EXPECT_EQ(gemm_ops, std::set<std::string>{"matmul"});
  double matmul_device_ms = 0;
  for (const profiler::SummaryRow& r : summary.rows)
    if (r.category == "op" && r.name == "matmul") matmul_device_ms = r.device_ms;
  EXPECT_GT(matmul_device_ms, 0);
  ASSERT_FALSE(summary.kernels.empty());
  std::ostringstream table;
  profiler::print_summary(summary, table);
  EXPECT_NE(table.str().find("device ms"), std::string::npos) << table.str();
}

}  // namespace
}  // namespace emrrg
