#include "runtime/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace emrrg {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("safetensors file '" + path + "': " + what);
}

DType dtype_from_code(const std::string& code, const std::string& path, const std::string& name) {
  for (DType t : {DType::Float32, DType::Float64, DType::BFloat16, DType::Float16, DType::Int32,
                  DType::Int64, DType::UInt8, DType::Bool})
    if (code == safetensors_dtype_code(t)) return t;
  fail(path, "tensor '" + name + "' has unsupported dtype '" + code + "'");
}

struct Mapping {
  void* addr = MAP_FAILED;
  size_t size = 0;
  ~Mapping() {
    if (addr != MAP_FAILED) munmap(addr, size);
  }
};

}  // namespace

const char* safetensors_dtype_code(DType t) {
  switch (t) {
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::BFloat16: return "BF16";
    case DType::Float16: return "F16";
    case DType::Int32: return "I32";
    case DType::Int64: return "I64";
    case DType::UInt8: return "U8";
    case DType::Bool: return "BOOL";
  }
  return "?";
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f;
  f.path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    ::close(fd);
    fail(path, std::string("cannot stat: ") + std::strerror(errno));
  }
  const size_t file_size = static_cast<size_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    fail(path, "file is " + std::to_string(file_size) + " bytes, shorter than the 8-byte header length");
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->size = file_size;
  mapping->addr = mmap(nullptr, file_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapping->addr == MAP_FAILED) fail(path, std::string("mmap failed: ") + std::strerror(errno));
  const char* base = static_cast<const char*>(mapping->addr);

  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(base[i]);
  if (header_len > file_size - 8)
    fail(path, "header length " + std::to_string(header_len) + " exceeds the file size " + std::to_string(file_size));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(base + 8, base + 8 + header_len);
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) fail(path, "header is not a JSON object");
  const size_t data_size = file_size - 8 - header_len;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail(path, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) fail(path, "__metadata__ value of '" + m.key() + "' is not a string");
        f.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      fail(path, "tensor '" + name + "' lacks dtype, shape or data_offsets");
    const auto& jd = v["dtype"];
    const auto& js = v["shape"];
    const auto& jo = v["data_offsets"];
    if (!jd.is_string()) fail(path, "tensor '" + name + "': dtype is not a string");
    if (!js.is_array()) fail(path, "tensor '" + name + "': shape is not a list");
    if (!jo.is_array() || jo.size() != 2 || !jo[0].is_number_unsigned() || !jo[1].is_number_unsigned())
      fail(path, "tensor '" + name + "': data_offsets is not a pair of non-negative integers");
    SafetensorsEntry e;
    e.name = name;
    e.dtype = dtype_from_code(jd.get<std::string>(), path, name);
    uint64_t numel = 1;
    for (const auto& d : js) {
      if (!d.is_number_unsigned()) fail(path, "tensor '" + name + "': shape entry " + d.dump() + " is not a non-negative integer");
      const uint64_t n = d.get<uint64_t>();
      if (n != 0 && numel > (uint64_t{1} << 62) / n) fail(path, "tensor '" + name + "': shape overflows");
      numel *= n;
      e.shape.push_back(static_cast<int64_t>(n));
    }
    e.begin = jo[0].get<uint64_t>();
    e.end = jo[1].get<uint64_t>();
    if (e.begin > e.end || e.end > data_size)
      fail(path, "tensor '" + name + "': data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                     ") outside the data section of " + std::to_string(data_size) + " bytes");
    if (e.end - e.begin != numel * dtype_size(e.dtype))
      fail(path, "tensor '" + name + "': shape " + shape_str(e.shape) + " of " + dtype_name(e.dtype) + " needs " +
                     std::to_string(numel * dtype_size(e.dtype)) + " bytes, data_offsets give " +
                     std::to_string(e.end - e.begin));
    f.entries_[name] = e;
  }
  std::vector<const SafetensorsEntry*> by_offset;
  for (const auto& [n, e] : f.entries_) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end)
      fail(path, "tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap");
  f.mapping_ = mapping;
  f.data_ = base + 8 + header_len;
  return f;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& [n, e] : entries_) out.push_back(n);
  return out;
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) fail(path_, "no tensor named '" + name + "'");
  return it->second;
}

Tensor SafetensorsFile::get(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  char* bytes = const_cast<char*>(data_ + e.begin);
  const size_t nbytes = e.end - e.begin;
  if (reinterpret_cast<uintptr_t>(bytes) % dtype_size(e.dtype) != 0) {
    Tensor t = empty(e.shape, e.dtype);
    std::memcpy(t.raw_data(), bytes, nbytes);
    return t;
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(bytes, nbytes, Device::cpu(), mapping_);
  impl->shape = e.shape;
  impl->strides = contiguous_strides(e.shape);
  impl->dtype = e.dtype;
  return Tensor(impl);
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> host;
  size_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__") throw std::invalid_argument("save_safetensors: '__metadata__' is reserved");
    Tensor c = to_contiguous(to_device(t, Device::cpu()));
    const size_t nbytes = static_cast<size_t>(c.numel()) * c.element_size();
    header[name] = {{"dtype", safetensors_dtype_code(c.dtype())}, {"shape", c.shape()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    host.push_back(c);
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // data section starts 8-byte aligned
  std::ofstream out(path, std::ios::binary);
  if (!out) throw std::runtime_error("save_safetensors: cannot open '" + path + "' for writing");
  const uint64_t n = h.size();
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out.write(len, 8);
  out.write(h.data(), static_cast<std::streamsize>(h.size()));
  for (const Tensor& c : host)
    out.write(static_cast<const char*>(c.raw_data()), static_cast<std::streamsize>(c.numel() * c.element_size()));
  // The last buffered bytes reach the file at close: a full disk shows up there.
  out.close();
  if (!out) throw std::runtime_error("save_safetensors: write to '" + path + "' failed: " + std::strerror(errno));
}

}  // namespace emrrg
