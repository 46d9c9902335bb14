#include "runtime/pickle.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <optional>
#include <stdexcept>

namespace emrrg {

namespace {

using Kind = PickleValue::Kind;

// A one-letter type tag and the value (appended, since GCC 12 misreports "x" + string).
std::string tagged(char tag, const std::string& value) {
  std::string k(1, tag);
  k += value;
  return k;
}

// A tuple key's string may not grow past this: a pickle can make a tuple of n references to one
// tuple, nested 16 deep (the memo shares them), whose string would be n^16 long. Such a key
// falls back to its identity, as a key that is not hashable does.
constexpr size_t kMaxKeyBytes = size_t{1} << 16;

// The hashable part of Python's key equality: equal keys give equal strings.
std::optional<std::string> key_of(const PickleValue* v, int depth = 0) {
  switch (v->kind) {
    case Kind::None: return std::string("N");
    case Kind::Bool: return tagged('i', v->boolean ? "1" : "0");  // True == 1 in Python
    case Kind::Int: return tagged('i', std::to_string(v->integer));
    case Kind::Float:
      if (std::isfinite(v->number) && v->number == std::floor(v->number) && std::fabs(v->number) < 9e18)
        return tagged('i', std::to_string(static_cast<int64_t>(v->number)));
      return tagged('f', std::to_string(std::bit_cast<uint64_t>(v->number)));
    case Kind::String: return tagged('s', v->text);
    case Kind::Bytes: return tagged('b', v->text);
    case Kind::Tuple: {
      if (depth > 16) return std::nullopt;
      std::string k = tagged('t', std::to_string(v->items.size()));
      for (const PickleValue* item : v->items) {
        auto sub = key_of(item, depth + 1);
        if (!sub) return std::nullopt;
        k += ':';
        k += std::to_string(sub->size());
        k += ':';
        k += *sub;
        if (k.size() > kMaxKeyBytes) return std::nullopt;
      }
      return k;
    }
    default: return std::nullopt;
  }
}

std::string kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Set: return "set";
    case Kind::Global: return "global";
    case Kind::Object: return "object";
    case Kind::Tensor: return "tensor";
    case Kind::Opaque: return "opaque value";
  }
  return "?";
}

// Opcode names for errors about the ones this reader refuses.
const char* opcode_name(unsigned char op) {
  switch (op) {
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    case 'S': return "STRING";
    case 'V': return "UNICODE";
    case 'F': return "FLOAT";
    case 'I': return "INT";
    case 'L': return "LONG";
    default: return "unknown";
  }
}

// Python 2 names that protocol 2 writes for Python 3 modules (pickle's fix_imports).
std::string python3_module(const std::string& module) {
  if (module == "__builtin__") return "builtins";
  if (module == "copy_reg") return "copyreg";
  return module;
}

class Unpickler {
 public:
  Unpickler(std::string_view data, const std::string& source, PickleHooks& hooks)
      : data_(data), source_(source), hooks_(hooks), arena_(std::make_shared<PickleArena>()) {}

  Unpickled run() {
    for (;;) {
      op_pos_ = pos_;
      const unsigned char op = byte();
      if (op == '.') break;
      step(op);
    }
    if (stack_.size() != 1 || !marks_.empty())
      fail("STOP with " + std::to_string(stack_.size()) + " values on the stack (expected 1)");
    return {arena_, stack_.back()};
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("pickle '" + source_ + "' at byte " + std::to_string(op_pos_) + ": " + what);
  }

  // Input.
  void need(uint64_t n) const {
    if (n > data_.size() - pos_)
      fail("truncated: needs " + std::to_string(n) + " more bytes, " + std::to_string(data_.size() - pos_) + " left");
  }
  unsigned char byte() {
    need(1);
    return static_cast<unsigned char>(data_[pos_++]);
  }
  uint64_t uint_le(int n) {
    need(static_cast<uint64_t>(n));
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(data_[pos_ + i]);
    pos_ += static_cast<size_t>(n);
    return v;
  }
  std::string bytes(uint64_t n) {
    need(n);
    std::string s(data_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  std::string line() {
    const size_t end = data_.find('\n', pos_);
    if (end == std::string_view::npos) fail("truncated: a text argument has no end of line");
    std::string s(data_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }
  uint64_t decimal(const std::string& s) const {
    if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos)
      fail("'" + s + "' is not a memo index");
    return std::stoull(s);
  }

  // Values.
  PickleValue* make(Kind k) { return arena_->make(k); }
  PickleValue* make_int(int64_t v) {
    PickleValue* p = make(Kind::Int);
    p->integer = v;
    return p;
  }
  PickleValue* make_text(Kind k, std::string s) {
    PickleValue* p = make(k);
    p->text = std::move(s);
    return p;
  }
  // Two's complement little-endian integer of n bytes (LONG1, LONG4).
  PickleValue* make_long(uint64_t n) {
    if (n > 8) fail("integer of " + std::to_string(n) + " bytes does not fit in 64 bits");
    if (n == 0) return make_int(0);
    uint64_t v = uint_le(static_cast<int>(n));
    if (n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    return make_int(static_cast<int64_t>(v));
  }

  // Stack.
  void push(PickleValue* v) { stack_.push_back(v); }
  PickleValue* pop() {
    if (stack_.size() <= floor()) fail("stack underflow");
    PickleValue* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  PickleValue* top() {
    if (stack_.size() <= floor()) fail("stack underflow");
    return stack_.back();
  }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<PickleValue*> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PickleValue*> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  PickleValue* tuple_of(std::vector<PickleValue*> items) {
    PickleValue* t = make(Kind::Tuple);
    t->items = std::move(items);
    return t;
  }

  // Memo.
  void memo_put(uint64_t index) { memo_[index] = top(); }
  PickleValue* memo_get(uint64_t index) const {
    auto it = memo_.find(index);
    if (it == memo_.end()) fail("memo index " + std::to_string(index) + " was never stored");
    return it->second;
  }

  void set_items(PickleValue* dict, const std::vector<PickleValue*>& kv) {
    if (!dict->is(Kind::Dict) && !dict->is(Kind::Object)) fail("SETITEM(S) on a " + dict->describe());
    if (kv.size() % 2) fail("SETITEMS with an odd number of values");
    for (size_t i = 0; i < kv.size(); i += 2) dict->set_item(kv[i], kv[i + 1]);
  }
  void append_items(PickleValue* list, const std::vector<PickleValue*>& items) {
    if (!list->is(Kind::List) && !list->is(Kind::Object)) fail("APPEND(S) on a " + list->describe());
    list->items.insert(list->items.end(), items.begin(), items.end());
  }

  PickleValue* global(const std::string& module, const std::string& name) {
    const std::string q = python3_module(module) + "." + name;
    if (!builtin_global(q) && !hooks_.allows_global(q))
      fail("global '" + q + "' is not allowed (a checkpoint holds only tensors and plain data; nothing was executed)");
    return make_text(Kind::Global, q);
  }
  static bool builtin_global(const std::string& q) {
    return q == "collections.OrderedDict" || q == "_codecs.encode" || q == "builtins.set" ||
           q == "builtins.frozenset" || q == "argparse.Namespace";
  }

  // REDUCE: callable(*args), computed here for the plain-data globals, by the hooks otherwise.
  PickleValue* reduce(PickleValue* callable, PickleValue* args) {
    if (!callable->is(Kind::Global)) fail("REDUCE calls a " + callable->describe() + ", not an allowed global");
    if (!args->is(Kind::Tuple)) fail("REDUCE of " + callable->text + " with a " + args->describe() + " as arguments");
    const std::string& f = callable->text;
    const auto& a = args->items;
    if (f == "collections.OrderedDict") {
      PickleValue* d = make(Kind::Dict);
      if (a.empty()) return d;
      if (a.size() != 1 || !(a[0]->is(Kind::List) || a[0]->is(Kind::Tuple)))
        fail("collections.OrderedDict takes no argument or a list of pairs");
      for (PickleValue* kv : a[0]->items) {
        if (!kv->is(Kind::Tuple) || kv->items.size() != 2) fail("collections.OrderedDict: an item is not a pair");
        d->set_item(kv->items[0], kv->items[1]);
      }
      return d;
    }
    if (f == "builtins.set" || f == "builtins.frozenset") {
      PickleValue* s = make(Kind::Set);
      if (a.size() > 1 || (a.size() == 1 && !(a[0]->is(Kind::List) || a[0]->is(Kind::Tuple))))
        fail(f + " takes no argument or a list");
      if (!a.empty()) s->items = a[0]->items;
      return s;
    }
    if (f == "_codecs.encode") return latin1_bytes(a);
    if (f == "argparse.Namespace") return make_inert_object(*arena_, f, a);
    PickleValue* r = nullptr;
    try {
      r = hooks_.call(*arena_, f, a);
    } catch (const std::runtime_error& e) {
      fail(e.what());
    }
    if (r == nullptr) fail(f + " returned nothing");
    return r;
  }
  // Protocol 2 writes bytes b as _codecs.encode(b.decode('latin1'), 'latin1').
  PickleValue* latin1_bytes(const std::vector<PickleValue*>& a) {
    if (a.size() != 2 || !a[0]->is(Kind::String) || !a[1]->is(Kind::String) ||
        (a[1]->text != "latin1" && a[1]->text != "latin-1"))
      fail("_codecs.encode is only read as (str, 'latin1')");
    const std::string& s = a[0]->text;
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x80) {
        out.push_back(static_cast<char>(c));
      } else if ((c == 0xc2 || c == 0xc3) && i + 1 < s.size() && (static_cast<unsigned char>(s[i + 1]) & 0xc0) == 0x80) {
        out.push_back(static_cast<char>(((c & 0x1f) << 6) | (static_cast<unsigned char>(s[++i]) & 0x3f)));
      } else {
        fail("_codecs.encode: a character does not fit in latin1");
      }
    }
    return make_text(Kind::Bytes, std::move(out));
  }

  // NEWOBJ: cls.__new__(cls, *args) builds an inert placeholder; nothing of the class runs.
  PickleValue* new_object(PickleValue* cls, PickleValue* args) {
    if (!cls->is(Kind::Global)) fail("NEWOBJ of a " + cls->describe() + ", not an allowed class");
    if (!args->is(Kind::Tuple)) fail("NEWOBJ of " + cls->text + " with a " + args->describe() + " as arguments");
    return make_inert_object(*arena_, cls->text, args->items);
  }

  void step(unsigned char op) {
    switch (op) {
      case 0x80: {  // PROTO
        const unsigned v = byte();
        if (v < 2 || v > 5) fail("pickle protocol " + std::to_string(v) + " (protocols 2 to 5 are read)");
        return;
      }
      case 0x95: uint_le(8); return;  // FRAME: a length hint
      case '(': marks_.push_back(stack_.size()); return;
      case '0': pop(); return;
      case '1': pop_mark(); return;
      case '2': push(top()); return;
      case 'N': push(make(Kind::None)); return;
      case 0x88:
      case 0x89: {
        PickleValue* b = make(Kind::Bool);
        b->boolean = op == 0x88;
        push(b);
        return;
      }
      case 'J': push(make_int(static_cast<int32_t>(static_cast<uint32_t>(uint_le(4))))); return;
      case 'K': push(make_int(static_cast<int64_t>(uint_le(1)))); return;
      case 'M': push(make_int(static_cast<int64_t>(uint_le(2)))); return;
      case 0x8a: push(make_long(uint_le(1))); return;
      case 0x8b: push(make_long(uint_le(4))); return;
      case 'G': {
        need(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<unsigned char>(data_[pos_ + i]);  // big-endian
        pos_ += 8;
        PickleValue* f = make(Kind::Float);
        f->number = std::bit_cast<double>(bits);
        push(f);
        return;
      }
      case 'X': push(make_text(Kind::String, bytes(uint_le(4)))); return;
      case 0x8c: push(make_text(Kind::String, bytes(uint_le(1)))); return;
      case 0x8d: push(make_text(Kind::String, bytes(uint_le(8)))); return;
      case 'T': {
        const auto n = static_cast<int32_t>(static_cast<uint32_t>(uint_le(4)));
        if (n < 0) fail("BINSTRING with a negative length");
        push(make_text(Kind::String, bytes(static_cast<uint64_t>(n))));
        return;
      }
      case 'U': push(make_text(Kind::String, bytes(uint_le(1)))); return;
      case 'B': push(make_text(Kind::Bytes, bytes(uint_le(4)))); return;
      case 'C': push(make_text(Kind::Bytes, bytes(uint_le(1)))); return;
      case 0x8e:
      case 0x96: push(make_text(Kind::Bytes, bytes(uint_le(8)))); return;
      case ')': push(make(Kind::Tuple)); return;
      case 't': push(tuple_of(pop_mark())); return;
      case 0x85:
      case 0x86:
      case 0x87: {
        std::vector<PickleValue*> items(static_cast<size_t>(op - 0x84));
        for (size_t i = items.size(); i-- > 0;) items[i] = pop();
        push(tuple_of(std::move(items)));
        return;
      }
      case ']': push(make(Kind::List)); return;
      case 'l': {
        PickleValue* l = make(Kind::List);
        l->items = pop_mark();
        push(l);
        return;
      }
      case 'a': {
        PickleValue* v = pop();
        append_items(top(), {v});
        return;
      }
      case 'e': {
        auto items = pop_mark();
        append_items(top(), items);
        return;
      }
      case '}': push(make(Kind::Dict)); return;
      case 'd': {
        auto kv = pop_mark();
        PickleValue* d = make(Kind::Dict);
        set_items(d, kv);
        push(d);
        return;
      }
      case 's': {
        PickleValue* v = pop();
        PickleValue* k = pop();
        set_items(top(), {k, v});
        return;
      }
      case 'u': {
        auto kv = pop_mark();
        set_items(top(), kv);
        return;
      }
      case 0x8f: push(make(Kind::Set)); return;
      case 0x90: {
        auto items = pop_mark();
        PickleValue* s = top();
        if (!s->is(Kind::Set)) fail("ADDITEMS on a " + s->describe());
        s->items.insert(s->items.end(), items.begin(), items.end());
        return;
      }
      case 0x91: {
        PickleValue* s = make(Kind::Set);
        s->items = pop_mark();
        push(s);
        return;
      }
      case 'q': memo_put(uint_le(1)); return;
      case 'r': memo_put(uint_le(4)); return;
      case 'p': memo_put(decimal(line())); return;
      case 0x94: memo_put(memo_.size()); return;
      case 'h': push(memo_get(uint_le(1))); return;
      case 'j': push(memo_get(uint_le(4))); return;
      case 'g': push(memo_get(decimal(line()))); return;
      case 'c': {
        std::string module = line();
        std::string name = line();
        push(global(module, name));
        return;
      }
      case 0x93: {
        PickleValue* name = pop();
        PickleValue* module = pop();
        if (!name->is(Kind::String) || !module->is(Kind::String)) fail("STACK_GLOBAL of non-strings");
        push(global(module->text, name->text));
        return;
      }
      case 'R': {
        PickleValue* args = pop();
        PickleValue* callable = pop();
        push(reduce(callable, args));
        return;
      }
      case 0x81: {
        PickleValue* args = pop();
        PickleValue* cls = pop();
        push(new_object(cls, args));
        return;
      }
      case 0x92: {
        PickleValue* kwargs = pop();
        PickleValue* args = pop();
        PickleValue* cls = pop();
        if (!kwargs->is(Kind::Dict)) fail("NEWOBJ_EX with a " + kwargs->describe() + " as keyword arguments");
        push(new_object(cls, args));
        return;
      }
      case 'b': {
        PickleValue* state = pop();
        PickleValue* target = top();
        if (!target->is(Kind::Dict) && !target->is(Kind::Object)) fail("BUILD on a " + target->describe());
        target->state = state;
        return;
      }
      case 'Q': push(persistent(pop())); return;
      case 'P': push(persistent(make_text(Kind::String, line()))); return;
      case 'i': {
        const std::string module = line();
        const std::string name = line();
        fail("opcode INST (calling '" + python3_module(module) + "." + name + "') is not supported; nothing was executed");
      }
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        fail(std::string("opcode ") + hex + " (" + opcode_name(op) + ") is not supported");
      }
    }
  }

  PickleValue* persistent(PickleValue* pid) {
    PickleValue* r = nullptr;
    try {
      r = hooks_.persistent_load(*arena_, *pid);
    } catch (const std::runtime_error& e) {
      fail(e.what());
    }
    if (r == nullptr) fail("persistent id " + pid->describe() + " loaded nothing");
    return r;
  }

  std::string_view data_;
  std::string source_;
  PickleHooks& hooks_;
  std::shared_ptr<PickleArena> arena_;
  size_t pos_ = 0, op_pos_ = 0;
  std::vector<PickleValue*> stack_;
  std::vector<size_t> marks_;  // stack heights at each MARK
  std::unordered_map<uint64_t, PickleValue*> memo_;
};

}  // namespace

PickleValue* PickleArena::make(PickleValue::Kind kind) {
  values_.push_back(std::make_unique<PickleValue>());
  values_.back()->kind = kind;
  return values_.back().get();
}

PickleValue* make_inert_object(PickleArena& arena, const std::string& qualified_name, const std::vector<PickleValue*>& args) {
  PickleValue* o = arena.make(PickleValue::Kind::Object);
  o->text = qualified_name;
  o->args = args;
  return o;
}

void PickleValue::set_item(PickleValue* key, PickleValue* value) {
  const std::string k = key_of(key).value_or(tagged('@', std::to_string(reinterpret_cast<uintptr_t>(key))));
  auto [it, fresh] = index_.emplace(k, entries.size());
  if (fresh)
    entries.emplace_back(key, value);
  else
    entries[it->second].second = value;
}

const PickleValue* PickleValue::get(std::string_view key) const {
  if (kind != Kind::Dict && kind != Kind::Object) return nullptr;
  auto it = index_.find(tagged('s', std::string(key)));
  return it == index_.end() ? nullptr : entries[it->second].second;
}

std::string PickleValue::describe() const {
  switch (kind) {
    case Kind::Tuple:
    case Kind::List:
    case Kind::Set: return kind_name(kind) + " of " + std::to_string(items.size()) + " items";
    case Kind::Dict: return "dict of " + std::to_string(entries.size()) + " entries";
    case Kind::Global: return "global " + text;
    case Kind::Object: return "object of class " + text;
    case Kind::String: return "str '" + (text.size() > 40 ? text.substr(0, 40) + "..." : text) + "'";
    case Kind::Int: return "int " + std::to_string(integer);
    case Kind::Tensor: return "tensor " + shape_str(tensor.shape()) + " " + dtype_name(tensor.dtype());
    default: return kind_name(kind);
  }
}

Unpickled unpickle(std::string_view data, const std::string& source, PickleHooks& hooks) {
  return Unpickler(data, source, hooks).run();
}

}  // namespace emrrg
