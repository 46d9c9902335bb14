// The restricted unpickler on its own, with hooks that allow every global but the dangerous
// modules as an inert record, so the fuzzer reaches every opcode (inside a .pth the zip's CRCs
// keep most mutations away from the pickle). The result's graph, cycles included, is walked.
#include <cstdint>
#include <stdexcept>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "runtime/pickle.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using emrrg::PickleArena;
using emrrg::PickleValue;

class InertHooks : public emrrg::PickleHooks {
 public:
  bool allows_global(const std::string& name) const override {
    for (std::string_view refused : {"os.", "posix.", "builtins.", "subprocess."})
      if (name.starts_with(refused)) return false;
    return true;
  }
  PickleValue* call(PickleArena& arena, const std::string& callable, const std::vector<PickleValue*>& args) override {
    return emrrg::make_inert_object(arena, callable, args);
  }
  PickleValue* persistent_load(PickleArena& arena, const PickleValue& pid) override {
    PickleValue* v = arena.make(PickleValue::Kind::String);
    v->text = pid.describe();
    return v;
  }
};

void walk(const PickleValue* root) {
  std::unordered_set<const PickleValue*> seen;
  std::vector<const PickleValue*> todo{root};
  auto push = [&](const PickleValue* v) {
    if (v != nullptr && seen.insert(v).second) todo.push_back(v);
  };
  while (!todo.empty()) {
    const PickleValue* v = todo.back();
    todo.pop_back();
    (void)v->describe();
    (void)v->get("key");
    for (const PickleValue* i : v->items) push(i);
    for (const PickleValue* a : v->args) push(a);
    for (const auto& [k, x] : v->entries) {
      push(k);
      push(x);
    }
    push(v->state);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  InertHooks hooks;
  try {
    const emrrg::Unpickled u =
        emrrg::unpickle(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.pkl", hooks);
    walk(u.root);
  } catch (const std::exception& e) {
    emrrg::fuzz::expect_names(e, "fuzz.pkl");
  }
  return 0;
}
