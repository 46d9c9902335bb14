// safetensors files (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
// then the raw little-endian data. Files are memory-mapped; each tensor is read on request.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace emrrg {

struct SafetensorsEntry {
  std::string name;
  DType dtype;
  Shape shape;
  size_t begin = 0;  // byte offsets relative to the data section
  size_t end = 0;
};

class SafetensorsFile {
 public:
  // Maps the file and validates the whole header (known dtypes, shape x dtype size = byte
  // length, offsets in range and non-overlapping); throws std::runtime_error naming the path and
  // the offending tensor otherwise.
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return path_; }
  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  const SafetensorsEntry& entry(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // A CPU tensor over the mapped bytes (zero-copy when aligned; writes stay private to the
  // process). It keeps the mapping alive.
  Tensor get(const std::string& name) const;

 private:
  std::string path_;
  std::shared_ptr<void> mapping_;
  const char* data_ = nullptr;  // start of the data section
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Writes tensors (any device, any strides) in sorted name order with 8-byte-aligned data.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// The safetensors dtype code ("F32", "BF16", ...) and back.
const char* safetensors_dtype_code(DType t);

}  // namespace emrrg
