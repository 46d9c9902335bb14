// The keys and values a decoder has computed so far, per layer, for a batch of rows, so that each
// new token attends to the past without recomputing it.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "runtime/tensor.h"

namespace emrrg::models {

// RoPE positions of n new tokens per row: mask [rows, n] (nonzero = token; undefined = all tokens)
// on any device; real_tokens[r] counts row r's earlier tokens and is advanced. Padding gets
// position 1 (nothing reads it), as in Hugging Face's generate(). Returns int64 [rows, n], CPU.
Tensor positions_from_mask(const Tensor& mask, int64_t rows, int64_t n, std::vector<int64_t>& real_tokens);

class KVCache {
 public:
  // Room for `capacity` positions per row (it grows when exceeded); keys and values are stored
  // in `dtype` on `device`.
  KVCache(int64_t num_layers, int64_t rows, int64_t kv_heads, int64_t head_dim, DType dtype, Device device,
          int64_t capacity = 64);

  int64_t rows() const { return rows_; }
  int64_t length() const { return length_; }  // cached positions per row, padding included

  // Opens n new positions: mask [rows, n] (nonzero = a real token, 0 = padding) or undefined (all
  // real). Returns their RoPE positions (positions_from_mask over the rows' earlier tokens).
  Tensor extend(const Tensor& mask, int64_t n);
  // Writes layer `layer`'s keys and values of the positions extend() opened, k and v
  // [rows, kv_heads, n, head_dim], and returns views of the whole cache [rows, kv_heads, length, head_dim].
  std::pair<Tensor, Tensor> store(int64_t layer, const Tensor& k, const Tensor& v);
  // The key padding mask over every cached position, uint8 [rows, length] (nonzero = attend).
  Tensor key_mask() const;
  // New row i continues old row rows[i]; rows may repeat or be dropped (beam search).
  void select_rows(const std::vector<int64_t>& rows);

 private:
  void reserve(int64_t capacity);

  int64_t rows_, kv_heads_, head_dim_;
  DType dtype_;
  Device device_;
  int64_t capacity_, length_ = 0;
  std::vector<Tensor> k_, v_;          // [rows, kv_heads, capacity, head_dim] per layer
  Tensor mask_;                        // uint8 [rows, capacity] on device_
  std::vector<int64_t> real_tokens_;  // per row: positions that were not padding
};

}  // namespace emrrg::models
