// --profile FILE.json and its step options, shared by the subcommands (runtime/profiler.h).
#pragma once
#include <CLI/CLI.hpp>
#include <iosfwd>
#include <memory>
#include <string>

#include "runtime/profiler.h"

namespace emrrg::cli {

struct ProfileChoice {
  std::string trace_path;  // empty: not profiling
  int warmup_steps = 1;
  int steps = 3;
  bool wait_for_begin = false;  // profiler::Options::wait_for_begin: the command's loop says where steps start
};

// Adds --profile, --profile-warmup and --profile-steps; `step_name` says what a step is here
// ("training step"). With an empty step_name only --profile is added and the whole run is traced.
void add_profile_options(CLI::App& app, ProfileChoice& choice, const std::string& step_name);
// A session when --profile was given, else null.
std::unique_ptr<profiler::Session> start_profile(const ProfileChoice& choice);
// Finishes the session (if any): writes the trace and prints the summary table to `out`.
void finish_profile(std::unique_ptr<profiler::Session>& session, const ProfileChoice& choice, std::ostream& out);

}  // namespace emrrg::cli
