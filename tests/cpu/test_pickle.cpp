// The restricted unpickler on hand-made pickles: plain data of every kind at protocols 2, 4 and 5
// (bytes written by Python's pickle.dumps), and malformed input that must be an error, never a
// crash (the suite runs under AddressSanitizer).
#include <gtest/gtest.h>

#include <stdexcept>

#include "runtime/pickle.h"

namespace emrrg {
namespace {

using Kind = PickleValue::Kind;

// pickle.dumps({"a": 1, "b": [1.5, True, None], "c": (1, "x"), "d": -2**40, "e": b"\x00\xff",
//               "s": {3}, "f": frozenset(), 7: "seven", "u": "\u00e9\u4e2d", "big": 2**63 - 1}, protocol=P)
const char kPlainProtocol2[] =
    "\x80\x02\x7d\x71\x00\x28\x58\x01\x00\x00\x00\x61\x71\x01\x4b\x01\x58\x01\x00\x00\x00\x62\x71\x02"
    "\x5d\x71\x03\x28\x47\x3f\xf8\x00\x00\x00\x00\x00\x00\x88\x4e\x65\x58\x01\x00\x00\x00\x63\x71\x04"
    "\x4b\x01\x58\x01\x00\x00\x00\x78\x71\x05\x86\x71\x06\x58\x01\x00\x00\x00\x64\x71\x07\x8a\x06\x00"
    "\x00\x00\x00\x00\xff\x58\x01\x00\x00\x00\x65\x71\x08\x63\x5f\x63\x6f\x64\x65\x63\x73\x0a\x65\x6e"
    "\x63\x6f\x64\x65\x0a\x71\x09\x58\x03\x00\x00\x00\x00\xc3\xbf\x71\x0a\x58\x06\x00\x00\x00\x6c\x61"
    "\x74\x69\x6e\x31\x71\x0b\x86\x71\x0c\x52\x71\x0d\x58\x01\x00\x00\x00\x73\x71\x0e\x63\x5f\x5f\x62"
    "\x75\x69\x6c\x74\x69\x6e\x5f\x5f\x0a\x73\x65\x74\x0a\x71\x0f\x5d\x71\x10\x4b\x03\x61\x85\x71\x11"
    "\x52\x71\x12\x58\x01\x00\x00\x00\x66\x71\x13\x63\x5f\x5f\x62\x75\x69\x6c\x74\x69\x6e\x5f\x5f\x0a"
    "\x66\x72\x6f\x7a\x65\x6e\x73\x65\x74\x0a\x71\x14\x5d\x71\x15\x85\x71\x16\x52\x71\x17\x4b\x07\x58"
    "\x05\x00\x00\x00\x73\x65\x76\x65\x6e\x71\x18\x58\x01\x00\x00\x00\x75\x71\x19\x58\x05\x00\x00\x00"
    "\xc3\xa9\xe4\xb8\xad\x71\x1a\x58\x03\x00\x00\x00\x62\x69\x67\x71\x1b\x8a\x08\xff\xff\xff\xff\xff"
    "\xff\xff\x7f\x75\x2e";
const char kPlainProtocol4[] =
    "\x80\x04\x95\x76\x00\x00\x00\x00\x00\x00\x00\x7d\x94\x28\x8c\x01\x61\x94\x4b\x01\x8c\x01\x62\x94"
    "\x5d\x94\x28\x47\x3f\xf8\x00\x00\x00\x00\x00\x00\x88\x4e\x65\x8c\x01\x63\x94\x4b\x01\x8c\x01\x78"
    "\x94\x86\x94\x8c\x01\x64\x94\x8a\x06\x00\x00\x00\x00\x00\xff\x8c\x01\x65\x94\x43\x02\x00\xff\x94"
    "\x8c\x01\x73\x94\x8f\x94\x28\x4b\x03\x90\x8c\x01\x66\x94\x28\x91\x94\x4b\x07\x8c\x05\x73\x65\x76"
    "\x65\x6e\x94\x8c\x01\x75\x94\x8c\x05\xc3\xa9\xe4\xb8\xad\x94\x8c\x03\x62\x69\x67\x94\x8a\x08\xff"
    "\xff\xff\xff\xff\xff\xff\x7f\x75\x2e";
const char kPlainProtocol5[] =
    "\x80\x05\x95\x76\x00\x00\x00\x00\x00\x00\x00\x7d\x94\x28\x8c\x01\x61\x94\x4b\x01\x8c\x01\x62\x94"
    "\x5d\x94\x28\x47\x3f\xf8\x00\x00\x00\x00\x00\x00\x88\x4e\x65\x8c\x01\x63\x94\x4b\x01\x8c\x01\x78"
    "\x94\x86\x94\x8c\x01\x64\x94\x8a\x06\x00\x00\x00\x00\x00\xff\x8c\x01\x65\x94\x43\x02\x00\xff\x94"
    "\x8c\x01\x73\x94\x8f\x94\x28\x4b\x03\x90\x8c\x01\x66\x94\x28\x91\x94\x4b\x07\x8c\x05\x73\x65\x76"
    "\x65\x6e\x94\x8c\x01\x75\x94\x8c\x05\xc3\xa9\xe4\xb8\xad\x94\x8c\x03\x62\x69\x67\x94\x8a\x08\xff"
    "\xff\xff\xff\xff\xff\xff\x7f\x75\x2e";
const char kCyclicList[] = "\x80\x02\x5d\x71\x00\x68\x00\x61\x2e";  // l = []; l.append(l)

template <size_t N> std::string_view bytes(const char (&literal)[N]) { return {literal, N - 1}; }

// Allows no global and no persistent id: only plain data gets through.
class NoHooks : public PickleHooks {
 public:
  bool allows_global(const std::string&) const override { return false; }
  PickleValue* call(PickleArena&, const std::string& f, const std::vector<PickleValue*>&) override {
    throw std::runtime_error("unexpected call of " + f);
  }
  PickleValue* persistent_load(PickleArena&, const PickleValue&) override {
    throw std::runtime_error("no persistent ids here");
  }
};

using namespace std::string_literals;

std::string error_of(std::string_view data) {
  NoHooks hooks;
  try {
    unpickle(data, "test.pkl", hooks);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(Pickle, ReadsPlainDataAtEveryProtocol) {
  for (std::string_view data : {bytes(kPlainProtocol2), bytes(kPlainProtocol4), bytes(kPlainProtocol5)}) {
    NoHooks hooks;
    const Unpickled u = unpickle(data, "plain.pkl", hooks);
    const PickleValue& d = *u.root;
    ASSERT_TRUE(d.is(Kind::Dict));
    ASSERT_EQ(d.entries.size(), 10u);
    EXPECT_EQ(d.get("a")->integer, 1);
    const PickleValue* b = d.get("b");
    ASSERT_TRUE(b->is(Kind::List));
    ASSERT_EQ(b->items.size(), 3u);
    EXPECT_EQ(b->items[0]->number, 1.5);
    EXPECT_TRUE(b->items[1]->is(Kind::Bool) && b->items[1]->boolean);
    EXPECT_TRUE(b->items[2]->is(Kind::None));
    const PickleValue* c = d.get("c");
    ASSERT_TRUE(c->is(Kind::Tuple) && c->items.size() == 2);
    EXPECT_EQ(c->items[1]->text, "x");
    EXPECT_EQ(d.get("d")->integer, -(int64_t{1} << 40));
    EXPECT_TRUE(d.get("e")->is(Kind::Bytes));
    EXPECT_EQ(d.get("e")->text, std::string("\x00\xff", 2));
    ASSERT_TRUE(d.get("s")->is(Kind::Set));
    EXPECT_EQ(d.get("s")->items.at(0)->integer, 3);
    EXPECT_TRUE(d.get("f")->is(Kind::Set) && d.get("f")->items.empty());
    EXPECT_EQ(d.entries[7].first->integer, 7);  // an int key, in insertion order
    EXPECT_EQ(d.entries[7].second->text, "seven");
    EXPECT_EQ(d.get("u")->text, "\u00e9\u4e2d");  // UTF-8
    EXPECT_EQ(d.get("big")->integer, INT64_MAX);
  }
}

TEST(Pickle, CyclesAreHeldByTheArena) {
  NoHooks hooks;
  const Unpickled u = unpickle(bytes(kCyclicList), "cycle.pkl", hooks);
  ASSERT_TRUE(u.root->is(Kind::List));
  EXPECT_EQ(u.root->items.at(0), u.root);  // freed with the arena, no leak under ASan
}

TEST(Pickle, ARepeatedKeyReplacesTheValue) {
  // {"k": 1} then SETITEM "k" = 2, as Python's dict would end up.
  const char data[] = "\x80\x02}X\x01\x00\x00\x00kK\x01sX\x01\x00\x00\x00kK\x02s.";
  NoHooks hooks;
  const Unpickled u = unpickle(bytes(data), "dup.pkl", hooks);
  ASSERT_EQ(u.root->entries.size(), 1u);
  EXPECT_EQ(u.root->get("k")->integer, 2);
}

TEST(Pickle, ADictKeyOfSharedNestedTuplesIsKeptByIdentity) {
  // A tuple of 8 references to one memoised tuple, nested 16 deep, as a dict key: its value
  // string would be 8^16 tuples long (a fuzz_unpickler run found the hang). Two such keys (the
  // same object) are one entry; an equal but separately built key would be another.
  std::string data = "\x80\x02})q";  // the dict, then the innermost tuple () as memo 0
  data += '\0';
  for (int level = 1; level <= 16; ++level) {
    data += "0(";  // POP the previous level (it stays in the memo), MARK
    for (int i = 0; i < 8; ++i) data += std::string("h") + static_cast<char>(level - 1);
    data += std::string("tq") + static_cast<char>(level);
  }
  data += "K\x01sh\x10K\x02s.";  // {key: 1}, then the same key (memo 16) = 2
  NoHooks hooks;
  const Unpickled u = unpickle(data, "nested.pkl", hooks);
  ASSERT_EQ(u.root->entries.size(), 1u);
  EXPECT_EQ(u.root->entries[0].second->integer, 2);
  EXPECT_TRUE(u.root->entries[0].first->is(Kind::Tuple));
}

TEST(Pickle, MalformedInputIsAnErrorNamingTheProblem) {
  const struct {
    std::string data;
    const char* message;
  } cases[] = {
      {std::string(bytes(kPlainProtocol2).substr(0, 120)), "truncated"},
      {"\x80\x02X\xff\xff\xff\x7f"s, "truncated: needs 2147483647 more bytes"},
      {"\x80\x02h\x05."s, "memo index 5 was never stored"},
      {"\x80\x02t."s, "no MARK"},
      {"\x80\x02" "a."s, "stack underflow"},
      {"\x80\x02N\x85N."s, "STOP with 2 values"},
      {"\x80\x01N."s, "pickle protocol 1"},
      {"\x80\x02(iposix\nsystem\n."s, "opcode INST (calling 'posix.system') is not supported"},
      {"\x80\x02(o."s, "opcode 0x6f (OBJ)"},
      {"\x80\x02" "cposix\nsystem\nX\x02\x00\x00\x00ls\x85R."s, "global 'posix.system' is not allowed"},
      {"\x80\x02" "c__builtin__\ngetattr\n."s, "global 'builtins.getattr' is not allowed"},
      {"\x80\x02N)R."s, "REDUCE calls a None"},
      {"\x80\x02]Nb."s, "BUILD on a list of 0 items"},
      {"\x80\x02\x8a\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09."s, "does not fit in 64 bits"},
      {"\x80\x02X\x01\x00\x00\x00kQ."s, "no persistent ids here"},
      {"\x80\x02"s, "truncated"},
  };
  for (const auto& c : cases) {
    const std::string e = error_of(c.data);
    EXPECT_NE(e.find(c.message), std::string::npos) << "expected '" << c.message << "', got '" << e << "'";
    EXPECT_NE(e.find("pickle 'test.pkl' at byte"), std::string::npos) << e;
  }
}

}  // namespace
}  // namespace emrrg
