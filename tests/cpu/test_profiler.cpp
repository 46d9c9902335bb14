// The op profiler (runtime/profiler.h): the trace of a few MLP demo steps is valid trace event
// JSON whose events nest per thread and name the step's ops, forward and backward; the summary's
// totals add up; profiling changes no result.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "ops/ops.h"
#include "runtime/profiler.h"
#include "train/mlp_demo.h"

namespace {

using namespace emrrg;
using nlohmann::json;

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          (name + "_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + ".json"))
      .string();
}

json read_json(const std::string& path) {
  std::ifstream f(path);
  EXPECT_TRUE(f.good()) << path;
  return json::parse(f);  // throws on invalid JSON
}

train::MlpDemoOptions small_demo() {
  train::MlpDemoOptions o;
  o.steps = 6;
  o.points_per_class = 20;
  o.hidden = 8;
  o.log_every = 100;
  return o;
}

// Complete events of one track must nest: each pair disjoint or one inside the other.
void expect_nested(std::vector<std::pair<double, double>> spans, const std::string& track) {
  std::sort(spans.begin(), spans.end(),
            [](auto a, auto b) { return a.first != b.first ? a.first < b.first : a.second > b.second; });
  std::vector<double> ends;
  constexpr double kSlack = 1e-3;  // us: the JSON's decimal rounding
  for (const auto& [ts, dur] : spans) {
    ASSERT_GE(dur, 0) << track;
    while (!ends.empty() && ends.back() <= ts + kSlack) ends.pop_back();
    if (!ends.empty()) {
      EXPECT_LE(ts + dur, ends.back() + kSlack) << track << ": an event at " << ts << " us overlaps its parent";
    }
    ends.push_back(ts + dur);
  }
}

TEST(Profiler, TraceOfMlpStepsIsValidNestedAndNamesTheOps) {
  const std::string path = temp_path("emrrg_profile_mlp");
  train::MlpDemoOptions o = small_demo();
  std::ostringstream log;
  profiler::Summary summary;
  {
    profiler::Session session({path, 2, 3});
    o.profile = &session;
    train::run_mlp_demo(o, log);
    summary = session.finish();
  }
  const json trace = read_json(path);
  std::remove(path.c_str());
  ASSERT_TRUE(trace.contains("traceEvents"));
  std::map<std::string, int> op_calls, backward_calls, phase_calls;
  std::map<int, std::vector<std::pair<double, double>>> tracks;
  std::set<int> named_tracks;
  int counters = 0;
  for (const json& e : trace["traceEvents"]) {
    const std::string ph = e.at("ph");
    if (ph == "M") {
      if (e.at("name") == "thread_name") named_tracks.insert(e.at("tid").get<int>());
      continue;
    }
    if (ph == "C") {
      ++counters;
      EXPECT_TRUE(e.at("args").contains("live"));
      continue;
    }
    ASSERT_EQ(ph, "X") << e.dump();
    tracks[e.at("tid").get<int>()].emplace_back(e.at("ts").get<double>(), e.at("dur").get<double>());
    const std::string cat = e.at("cat"), name = e.at("name");
    if (cat == "op") {
      ++op_calls[name];
      EXPECT_FALSE(e.at("args").at("inputs").get<std::string>().empty()) << name;
      EXPECT_EQ(e.at("args").at("device"), "cpu") << name;
    }
    if (cat == "backward") ++backward_calls[name];
    if (cat == "phase") ++phase_calls[name];
  }
  for (auto& [tid, spans] : tracks) {
    EXPECT_TRUE(named_tracks.count(tid)) << "track " << tid << " has no thread_name";
    expect_nested(spans, "track " + std::to_string(tid));
  }
  // Three traced steps (after two of warm-up), each one forward, backward and optimiser phase.
  EXPECT_EQ(phase_calls["forward"], 3);
  EXPECT_EQ(phase_calls["backward"], 3);
  EXPECT_EQ(phase_calls["optimizer"], 3);
  // Per step: two Linear layers (matmul + add each), gelu, cross_entropy.
  EXPECT_EQ(op_calls["matmul"], 6);
  EXPECT_EQ(op_calls["gelu"], 3);
  EXPECT_EQ(op_calls["cross_entropy"], 3);
  EXPECT_EQ(backward_calls["matmul"], 6);
  EXPECT_EQ(backward_calls["cross_entropy"], 3);
  EXPECT_GT(counters, 0);
  // matmul declares its cost: 2 m n k per call, 60 points through 2->8 and 8->3.
  bool found = false;
  for (const profiler::SummaryRow& r : summary.rows)
    if (r.category == "op" && r.name == "matmul") {
      found = true;
      EXPECT_DOUBLE_EQ(r.flops, 3 * (2.0 * 60 * 8 * 2 + 2.0 * 60 * 3 * 8));
    }
  EXPECT_TRUE(found);
}

TEST(Profiler, SummaryTotalsAddUp) {
  const std::string path = temp_path("emrrg_profile_summary");
  train::MlpDemoOptions o = small_demo();
  std::ostringstream log;
  profiler::Session session({path, 1, 2});
  o.profile = &session;
  train::run_mlp_demo(o, log);
  const profiler::Summary& s = session.finish();
  const json trace = read_json(path);
  std::remove(path.c_str());
  ASSERT_FALSE(s.rows.empty());
  double total = 0, share = 0;
  int64_t calls = 0;
  for (size_t i = 0; i < s.rows.size(); ++i) {
    const profiler::SummaryRow& r = s.rows[i];
    total += r.total_ms;
    share += r.share;
    calls += r.calls;
    EXPECT_NEAR(r.mean_ms * static_cast<double>(r.calls), r.total_ms, 1e-9);
    EXPECT_GE(r.total_ms, -1e-9) << r.name;
    if (i) {
      EXPECT_LE(r.total_ms, s.rows[i - 1].total_ms) << "rows sorted by total";
    }
  }
  EXPECT_NEAR(total, s.total_ms, 1e-9);
  EXPECT_NEAR(share, 1.0, 1e-9);
  EXPECT_EQ(calls, s.events);
  // Self times sum to the time the top-level events cover (here: the phases, on one thread).
  double phases_us = 0;
  int64_t complete = 0;
  for (const json& e : trace["traceEvents"]) {
    if (e.at("ph") != "X") continue;
    ++complete;
    if (e.at("cat") == "phase") phases_us += e.at("dur").get<double>();
  }
  EXPECT_EQ(complete, s.events);
  EXPECT_NEAR(s.total_ms, phases_us * 1e-3, 1e-4 + 1e-6 * s.total_ms);
  std::ostringstream table;
  profiler::print_summary(s, table);
  EXPECT_NE(table.str().find("matmul"), std::string::npos) << table.str();
  EXPECT_NE(table.str().find("share"), std::string::npos);
}

TEST(Profiler, ProfilingChangesNoResult) {
  const train::MlpDemoOptions o = small_demo();
  std::ostringstream log;
  const train::MlpDemoResult plain = train::run_mlp_demo(o, log);
  const std::string path = temp_path("emrrg_profile_same");
  train::MlpDemoResult profiled;
  {
    profiler::Session session({path, 1, 0});
    train::MlpDemoOptions p = o;
    p.profile = &session;
    profiled = train::run_mlp_demo(p, log);
  }
  std::remove(path.c_str());
  ASSERT_EQ(plain.losses.size(), profiled.losses.size());
  for (size_t i = 0; i < plain.losses.size(); ++i) EXPECT_EQ(plain.losses[i], profiled.losses[i]) << "step " << i;
  EXPECT_EQ(plain.accuracy, profiled.accuracy);
}

TEST(Profiler, OpRangeCarriesTheRecordedShapesAndNoEventsWhenOff) {
  const Tensor a = full({4, 5}, 0.5), b = full({5, 3}, 0.25);
  {
    // No session: nothing is recorded, the op still works.
    EXPECT_FALSE(profiler::tracing());
    EXPECT_EQ(profiler::current_op_id(), 0);
    EXPECT_DOUBLE_EQ(matmul(a, b).to_vector<float>()[0], 5 * 0.5 * 0.25);
  }
  profiler::Session session({"", 0, 0});
  EXPECT_THROW(profiler::Session({"", 0, 0}), std::logic_error) << "a second session while one runs";
  {
    const profiler::Range outer("outer");
    matmul(a, b);
    softmax(b, -1);
  }
  const profiler::Summary& s = session.finish();
  std::map<std::string, profiler::SummaryRow> by_name;
  for (const profiler::SummaryRow& r : s.rows) by_name[r.name] = r;
  ASSERT_TRUE(by_name.count("matmul"));
  EXPECT_EQ(by_name["matmul"].calls, 1);
  EXPECT_DOUBLE_EQ(by_name["matmul"].flops, 2.0 * 4 * 5 * 3);
  EXPECT_DOUBLE_EQ(by_name["matmul"].bytes, 4.0 * (20 + 15 + 12));
  EXPECT_EQ(by_name["softmax"].calls, 1);
  EXPECT_DOUBLE_EQ(by_name["softmax"].bytes, 2.0 * 4 * 15);
  EXPECT_EQ(by_name["outer"].calls, 1);
}

TEST(Profiler, WorkerThreadsGetTheirOwnNamedTracks) {
  const std::string path = temp_path("emrrg_profile_threads");
  {
    profiler::Session session({path, 0, 0});
    std::thread worker([] {
      profiler::set_thread_name("data loader worker 0");
      const profiler::Range range("load sample", "loader");
    });
    worker.join();
    const profiler::Range range("main work");
  }
  const json trace = read_json(path);
  std::remove(path.c_str());
  std::map<int, std::string> names;
  std::map<std::string, int> tid_of_event;
  for (const json& e : trace["traceEvents"]) {
    if (e.at("ph") == "M" && e.at("name") == "thread_name") names[e.at("tid")] = e.at("args").at("name");
    if (e.at("ph") == "X") tid_of_event[e.at("name")] = e.at("tid");
  }
  ASSERT_TRUE(tid_of_event.count("load sample"));
  ASSERT_TRUE(tid_of_event.count("main work"));
  EXPECT_NE(tid_of_event["load sample"], tid_of_event["main work"]);
  EXPECT_EQ(names[tid_of_event["load sample"]], "data loader worker 0");
  EXPECT_EQ(names[tid_of_event["main work"]], "main");
}

}  // namespace
