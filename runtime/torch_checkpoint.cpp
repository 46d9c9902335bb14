#include "runtime/torch_checkpoint.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>

#include "runtime/zip_archive.h"

namespace emrrg {

namespace {

using Kind = PickleValue::Kind;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("torch checkpoint '" + path + "': " + what);
}

// torch's typed storage classes: the element type of each, or none for those this framework has
// no dtype for (they are still named, so the error can say which type it met).
struct StorageType {
  const char* name;
  std::optional<DType> dtype;
  const char* torch_dtype;
};
constexpr StorageType kStorageTypes[] = {
    {"torch.FloatStorage", DType::Float32, "float32"},   {"torch.DoubleStorage", DType::Float64, "float64"},
    {"torch.HalfStorage", DType::Float16, "float16"},    {"torch.BFloat16Storage", DType::BFloat16, "bfloat16"},
    {"torch.LongStorage", DType::Int64, "int64"},        {"torch.IntStorage", DType::Int32, "int32"},
    {"torch.ByteStorage", DType::UInt8, "uint8"},        {"torch.BoolStorage", DType::Bool, "bool"},
    {"torch.UntypedStorage", DType::UInt8, "uint8"},     {"torch.ShortStorage", std::nullopt, "int16"},
    {"torch.CharStorage", std::nullopt, "int8"},         {"torch.ComplexFloatStorage", std::nullopt, "complex64"},
    {"torch.ComplexDoubleStorage", std::nullopt, "complex128"}, {"torch.QUInt8Storage", std::nullopt, "quint8"},
    {"torch.QInt8Storage", std::nullopt, "qint8"},       {"torch.QInt32Storage", std::nullopt, "qint32"},
    {"torch.QUInt4x2Storage", std::nullopt, "quint4x2"}, {"torch.QUInt2x4Storage", std::nullopt, "quint2x4"},
};
const StorageType* storage_type(const std::string& name) {
  for (const StorageType& t : kStorageTypes)
    if (name == t.name) return &t;
  return nullptr;
}

constexpr const char* kRebuildTensor = "torch._utils._rebuild_tensor_v2";
constexpr const char* kRebuildParameter = "torch._utils._rebuild_parameter";
constexpr const char* kRebuildParameterWithState = "torch._utils._rebuild_parameter_with_state";

// One storage record, read once however many tensors view it.
struct LoadedStorage {
  std::shared_ptr<Storage> storage;
  DType dtype;
  int64_t numel;
  std::string key;
};

// Non-negative integers from a tuple of ints (sizes, strides).
std::vector<int64_t> int_tuple(const PickleValue* v, const char* what) {
  if (!v->is(Kind::Tuple)) throw std::runtime_error(std::string(kRebuildTensor) + ": " + what + " is a " + v->describe());
  std::vector<int64_t> out;
  for (const PickleValue* i : v->items) {
    if (!i->is(Kind::Int) || i->integer < 0)
      throw std::runtime_error(std::string(kRebuildTensor) + ": " + what + " holds " + i->describe());
    out.push_back(i->integer);
  }
  return out;
}

class TorchHooks : public PickleHooks {
 public:
  TorchHooks(const ZipArchive& zip, std::string record_prefix, const TorchCheckpointOptions& options)
      : zip_(zip), prefix_(std::move(record_prefix)), options_(options) {}

  bool allows_global(const std::string& q) const override {
    return q == kRebuildTensor || q == kRebuildParameter || q == kRebuildParameterWithState || storage_type(q) ||
           std::find(options_.inert_classes.begin(), options_.inert_classes.end(), q) != options_.inert_classes.end();
  }

  PickleValue* call(PickleArena& arena, const std::string& f, const std::vector<PickleValue*>& args) override {
    if (f == kRebuildTensor) return rebuild_tensor(arena, args);
    if (f == kRebuildParameter || f == kRebuildParameterWithState) {
      // (data, requires_grad, backward_hooks[, state]): the tensor is all a state dict needs.
      if (args.size() < 3 || !args[0]->is(Kind::Tensor)) throw std::runtime_error(f + ": expects a tensor first");
      return args[0];
    }
    if (std::find(options_.inert_classes.begin(), options_.inert_classes.end(), f) != options_.inert_classes.end())
      return make_inert_object(arena, f, args);
    throw std::runtime_error("global '" + f + "' is a storage type and is not called when loading");
  }

  PickleValue* persistent_load(PickleArena& arena, const PickleValue& pid) override {
    // ("storage", storage type, key, location, numel)
    const auto& a = pid.items;
    if (!pid.is(Kind::Tuple) || a.size() != 5 || !a[0]->is(Kind::String) || a[0]->text != "storage" ||
        !a[1]->is(Kind::Global) || !a[2]->is(Kind::String) || !a[4]->is(Kind::Int))
      throw std::runtime_error("persistent id " + pid.describe() + " is not a torch storage reference");
    const StorageType* type = storage_type(a[1]->text);
    if (type == nullptr) throw std::runtime_error("persistent id names " + a[1]->describe() + ", not a storage type");
    if (!type->dtype)
      throw std::runtime_error("storage '" + a[2]->text + "' is a " + type->name + " (" + type->torch_dtype +
                               "), a dtype this framework does not have");
    const std::string& key = a[2]->text;
    const int64_t numel = a[4]->integer;
    if (numel < 0) throw std::runtime_error("storage '" + key + "' has a negative size");
    auto& slot = storages_[key];
    if (!slot) {
      const std::string record = prefix_ + "data/" + key;
      if (!zip_.contains(record)) throw std::runtime_error("storage '" + key + "' has no record '" + record + "'");
      const uint64_t nbytes = zip_.size(record);
      const size_t elem = dtype_size(*type->dtype);
      if (nbytes % elem != 0 || nbytes / elem != static_cast<uint64_t>(numel))
        throw std::runtime_error("storage '" + key + "' of " + std::to_string(numel) + " " + type->torch_dtype +
                                 " elements has a record of " + std::to_string(nbytes) + " bytes");
      auto storage = std::make_shared<Storage>(nbytes, Device::cpu());
      zip_.read(record, storage->data(), nbytes);
      slot = std::make_shared<LoadedStorage>(LoadedStorage{storage, *type->dtype, numel, key});
    } else if (slot->dtype != *type->dtype || slot->numel != numel) {
      throw std::runtime_error("storage '" + key + "' is referred to as two different types or sizes");
    }
    PickleValue* v = arena.make(Kind::Opaque);
    v->opaque = slot;
    return v;
  }

 private:
  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  PickleValue* rebuild_tensor(PickleArena& arena, const std::vector<PickleValue*>& args) {
    if (args.size() < 6 || args.size() > 7 || !args[0]->is(Kind::Opaque) || !args[1]->is(Kind::Int))
      throw std::runtime_error(std::string(kRebuildTensor) + ": expects (storage, offset, size, stride, ...)");
    const auto& s = *std::static_pointer_cast<LoadedStorage>(args[0]->opaque);
    const int64_t offset = args[1]->integer;
    const Shape shape = int_tuple(args[2], "size");
    const Strides strides = int_tuple(args[3], "stride");
    if (shape.size() != strides.size())
      throw std::runtime_error(std::string(kRebuildTensor) + ": size " + shape_str(shape) + " and stride " +
                               shape_str(strides) + " differ in rank");
    // The last element reached (offset + sum (size-1)*stride) must lie in the storage; computed
    // in 128 bits so hostile sizes cannot wrap around.
    __int128 last = offset;
    bool empty_view = false;
    for (size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] == 0) empty_view = true;
      last += static_cast<__int128>(shape[i] > 0 ? shape[i] - 1 : 0) * strides[i];
    }
    if (offset < 0 || (!empty_view && last >= s.numel) || (empty_view && offset > s.numel))
      throw std::runtime_error("tensor " + shape_str(shape) + " with strides " + shape_str(strides) + " at offset " +
                               std::to_string(offset) + " reaches outside storage '" + s.key + "' of " +
                               std::to_string(s.numel) + " elements");
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = s.storage;
    impl->shape = shape;
    impl->strides = strides;
    impl->offset = offset;
    impl->dtype = s.dtype;
    PickleValue* v = arena.make(Kind::Tensor);
    v->tensor = Tensor(impl);
    return v;
  }

  const ZipArchive& zip_;
  std::string prefix_;
  const TorchCheckpointOptions& options_;
  std::map<std::string, std::shared_ptr<LoadedStorage>> storages_;
};

// The first bytes of a file (fewer when it is shorter).
std::string file_head(const std::string& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open '" + path + "': " + std::strerror(errno));
  std::string head(n, '\0');
  in.read(head.data(), static_cast<std::streamsize>(n));
  head.resize(static_cast<size_t>(in.gcount()));
  return head;
}

}  // namespace

bool looks_like_torch_save(const std::string& path) {
  const std::string head = file_head(path, 4);
  // A legacy pickle starts 0x80 <protocol> 0x8a (the LONG1 magic number); 0x80 alone is no sign,
  // as a safetensors file starts with its header length, whose low byte may be 0x80.
  return head == std::string("PK\x03\x04", 4) || (head.size() >= 3 && head[0] == '\x80' && head[2] == '\x8a');
}

TorchCheckpoint TorchCheckpoint::open(const std::string& path, const TorchCheckpointOptions& options) {
  const std::string head = file_head(path, 4);
  if (head != std::string("PK\x03\x04", 4)) {
    // The legacy format starts with a protocol-2 pickle of torch's magic number (a LONG1).
    if (head.size() >= 3 && head[0] == '\x80' && head[2] == '\x8a')
      fail(path, "this is the legacy torch.save format (PyTorch before 1.6), which is not read: load it in PyTorch "
                 "and save it again with torch.save (the zip format) or as safetensors");
    fail(path, "not a zip archive, so not a torch.save file of PyTorch 1.6 or later");
  }
  const ZipArchive zip = ZipArchive::open(path);
  std::string pickle_record;
  for (const std::string& name : zip.names()) {
    const size_t slash = name.find('/');
    if (slash == std::string::npos || name.find('/', slash + 1) != std::string::npos) continue;
    if (name.substr(slash + 1) == "constants.pkl")
      fail(path, "this is a TorchScript archive (torch.jit.save), not a torch.save checkpoint");
    if (name.substr(slash + 1) == "data.pkl" && pickle_record.empty()) pickle_record = name;
  }
  if (pickle_record.empty()) fail(path, "the zip archive has no <name>/data.pkl record");
  const std::string prefix = pickle_record.substr(0, pickle_record.size() - std::string("data.pkl").size());
  if (zip.contains(prefix + "byteorder")) {
    const std::string order = zip.read_string(prefix + "byteorder");
    if (order != "little") fail(path, "storages were saved " + order + "-endian; only little-endian is read");
  }
  TorchCheckpoint c;
  c.path_ = path;
  TorchHooks hooks(zip, prefix, options);
  try {
    const std::string pickle = zip.read_string(pickle_record);
    c.data_ = unpickle(pickle, pickle_record, hooks);
  } catch (const std::runtime_error& e) {
    fail(path, e.what());
  }
  return c;
}

}  // namespace emrrg
