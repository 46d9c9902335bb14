#include "nn/state_dict_mismatch.h"

#include <map>
#include <set>

namespace emrrg::nn {

namespace {

// For each name in `from`, the shortest dot-ended prefix whose removal leaves a name of `to`;
// returns the most frequent such prefix and how many names it explains (the first in order on a tie).
std::pair<std::string, int> commonest_prefix(const std::vector<std::string>& from, const std::vector<std::string>& to) {
  const std::set<std::string> targets(to.begin(), to.end());
  std::map<std::string, int> counts;
  for (const std::string& name : from)
    for (size_t dot = name.find('.'); dot != std::string::npos && dot + 1 < name.size(); dot = name.find('.', dot + 1))
      if (targets.count(name.substr(dot + 1))) {
        ++counts[name.substr(0, dot + 1)];
        break;
      }
  std::pair<std::string, int> best{"", 0};
  for (const auto& [prefix, count] : counts)
    if (count > best.second) best = {prefix, count};
  return best;
}

}  // namespace

std::string describe_state_dict_mismatch(const std::vector<std::string>& missing,
                                         const std::vector<std::string>& unexpected,
                                         const std::vector<std::string>& misshaped) {
  std::string m;
  auto list = [&](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    m += "\n  " + std::string(what) + " (" + std::to_string(names.size()) + "):";
    for (const std::string& n : names) m += " " + n;
  };
  list("missing keys", missing);
  list("unexpected keys", unexpected);
  list("mis-shaped keys", misshaped);
  const auto [strip, stripped] = commonest_prefix(unexpected, missing);
  const auto [add, added] = commonest_prefix(missing, unexpected);
  if (stripped > 0 && stripped >= added)
    m += "\n  hint: " + std::to_string(stripped) + " unexpected keys are missing keys under the prefix '" + strip +
         "': the prefix rename \"" + strip + "=\" maps them";
  else if (added > 0)
    m += "\n  hint: " + std::to_string(added) + " missing keys are unexpected keys without the prefix '" + add +
         "': the prefix rename \"=" + add + "\" maps them";
  return m;
}

}  // namespace emrrg::nn
