#include "train/cli/profile_option.h"

#include <ostream>

namespace emrrg::cli {

void add_profile_options(CLI::App& app, ProfileChoice& choice, const std::string& step_name) {
  if (step_name.empty()) {
    // No steps to count: the whole command is traced.
    choice.warmup_steps = 0;
    choice.steps = 0;
    app.add_option("--profile", choice.trace_path,
                   "Write a Chrome/Perfetto trace (trace event JSON) of the run and print a summary table to stderr");
    return;
  }
  app.add_option("--profile", choice.trace_path,
                 "Write a Chrome/Perfetto trace (trace event JSON) of a few " + step_name +
                     "s and print a summary table to stderr");
  app.add_option("--profile-warmup", choice.warmup_steps, "Untraced " + step_name + "s before the trace starts")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--profile-steps", choice.steps, "Traced " + step_name + "s (0: to the end)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
}

std::unique_ptr<profiler::Session> start_profile(const ProfileChoice& choice) {
  if (choice.trace_path.empty()) return nullptr;
  return std::make_unique<profiler::Session>(profiler::Options{choice.trace_path, choice.warmup_steps, choice.steps, choice.wait_for_begin});
}

void finish_profile(std::unique_ptr<profiler::Session>& session, const ProfileChoice& choice, std::ostream& out) {
  if (!session) return;
  const profiler::Summary& s = session->finish();
  if (s.events == 0)
    out << "profile: no events traced (fewer steps than --profile-warmup " << choice.warmup_steps << "?)\n";
  else
    profiler::print_summary(s, out);
  out << "profile: trace written to " << choice.trace_path << "\n";
  session.reset();
}

}  // namespace emrrg::cli
