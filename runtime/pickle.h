// A restricted unpickler: reads Python pickles (protocols 2-5, the opcodes torch.save and plain
// containers produce) into a tree of inert values. It never executes anything. A pickle names a
// callable with GLOBAL/STACK_GLOBAL and calls it with REDUCE or NEWOBJ; here every such name is
// checked against what the caller's PickleHooks allow, and an unknown one is an error naming
// it ("global 'posix.system' is not allowed"). Built in, because they are plain data:
// collections.OrderedDict (a dict), builtins.set/frozenset, _codecs.encode (how protocol 2 writes
// bytes) and argparse.Namespace (an inert Object holding its attribute dict). Calling or
// instantiating any other allowed class (NEWOBJ, or REDUCE when the hooks' call() says so) only
// records an inert Object.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime/tensor.h"

namespace emrrg {

struct PickleValue {
  enum class Kind { None, Bool, Int, Float, String, Bytes, Tuple, List, Dict, Set, Global, Object, Tensor, Opaque };
  Kind kind = Kind::None;
  bool boolean = false;
  int64_t integer = 0;
  double number = 0;
  std::string text;                    // String, Bytes; Global and Object: "module.name"
  // An Object is an inert record of a class the caller declared plain: its constructor arguments,
  // the items and entries a list or dict subclass was given, and BUILD's state (kept, never applied).
  std::vector<PickleValue*> items;     // Tuple, List, Set; Object: list items
  std::vector<std::pair<PickleValue*, PickleValue*>> entries;  // Dict, Object: in insertion order
  std::vector<PickleValue*> args;      // Object: constructor arguments
  PickleValue* state = nullptr;        // Dict, Object: BUILD's argument
  Tensor tensor;                       // Tensor
  std::shared_ptr<void> opaque;        // Opaque: whatever the hooks made (a storage, say)

  bool is(Kind k) const { return kind == k; }
  // Dict or Object: d[key] = value with Python's key equality for str, bytes, int, bool, float,
  // None and tuples of those (other keys compare by identity); a new key keeps insertion order.
  void set_item(PickleValue* key, PickleValue* value);
  // Dict or Object lookup by string key; nullptr when absent or neither.
  const PickleValue* get(std::string_view key) const;
  // Short description for error messages ("dict of 3 entries", "global torch.FloatStorage").
  std::string describe() const;

 private:
  std::unordered_map<std::string, size_t> index_;  // Dict: hashable key -> position in entries
};

// Values live in an arena owned by the result, so reference cycles a pickle can build (a list
// appended to itself) are plain pointers and free with it.
class PickleArena {
 public:
  PickleValue* make(PickleValue::Kind kind);
 private:
  std::vector<std::unique_ptr<PickleValue>> values_;
};

// An inert Object of class `qualified_name` holding `args`.
PickleValue* make_inert_object(PickleArena& arena, const std::string& qualified_name, const std::vector<PickleValue*>& args);

struct Unpickled {
  std::shared_ptr<PickleArena> arena;
  const PickleValue* root = nullptr;
};

// What a caller lets a pickle use beyond plain data. Throwing from a hook aborts the load.
class PickleHooks {
 public:
  virtual ~PickleHooks() = default;
  // Whether GLOBAL "module.name" may appear at all.
  virtual bool allows_global(const std::string& qualified_name) const = 0;
  // REDUCE: `callable` (a Global the hooks allowed) applied to `args`. make_inert_object() is there
  // for classes that are plain records.
  virtual PickleValue* call(PickleArena& arena, const std::string& callable, const std::vector<PickleValue*>& args) = 0;
  // BINPERSID/PERSID: the object a persistent id stands for.
  virtual PickleValue* persistent_load(PickleArena& arena, const PickleValue& pid) = 0;
};

// Parses `data` (the whole pickle). `source` names it in errors, which read
// "pickle '<source>' at byte N: ...". Throws std::runtime_error.
Unpickled unpickle(std::string_view data, const std::string& source, PickleHooks& hooks);

}  // namespace emrrg
