#include "models/llama/kv_cache.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "autograd/tape.h"
#include "ops/elementwise.h"
#include "ops/shape.h"

namespace emrrg::models {

Tensor positions_from_mask(const Tensor& mask, int64_t rows, int64_t n, std::vector<int64_t>& real_tokens) {
  std::vector<int64_t> m = mask.defined() ? mask.to_vector<int64_t>() : std::vector<int64_t>(rows * n, 1);
  std::vector<int64_t> pos(rows * n);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < n; ++i) {
      const bool real = m[r * n + i] != 0;
      pos[r * n + i] = real ? real_tokens[r] : 1;
      real_tokens[r] += real;
    }
  return from_vector(pos, {rows, n});
}

KVCache::KVCache(int64_t num_layers, int64_t rows, int64_t kv_heads, int64_t head_dim, DType dtype, Device device,
                 int64_t capacity)
    : rows_(rows), kv_heads_(kv_heads), head_dim_(head_dim), dtype_(dtype), device_(device), capacity_(0),
      k_(num_layers), v_(num_layers), real_tokens_(rows, 0) {
  if (num_layers <= 0 || rows <= 0 || kv_heads <= 0 || head_dim <= 0)
    throw std::invalid_argument("KVCache: layers, rows, kv_heads and head_dim must be positive");
  reserve(std::max<int64_t>(capacity, 1));
}

void KVCache::reserve(int64_t capacity) {
  if (capacity <= capacity_) return;
  auto grow = [&](Tensor& t, const Shape& shape, int64_t dim) {
    Tensor bigger = zeros(shape, t.defined() ? t.dtype() : dtype_, device_);
    if (t.defined() && length_ > 0) copy_into(narrow(bigger, dim, 0, length_), narrow(t, dim, 0, length_));
    t = bigger;
  };
  for (size_t l = 0; l < k_.size(); ++l) {
    grow(k_[l], {rows_, kv_heads_, capacity, head_dim_}, 2);
    grow(v_[l], {rows_, kv_heads_, capacity, head_dim_}, 2);
  }
  if (!mask_.defined()) mask_ = zeros({rows_, capacity}, DType::UInt8, device_);
  else grow(mask_, {rows_, capacity}, 1);
  capacity_ = capacity;
}

Tensor KVCache::extend(const Tensor& mask, int64_t n) {
  if (n <= 0) throw std::invalid_argument("KVCache::extend: no new positions");
  if (mask.defined() && mask.shape() != Shape{rows_, n})
    throw std::invalid_argument("KVCache::extend: mask " + shape_str(mask.shape()) + " is not [" +
                                std::to_string(rows_) + ", " + std::to_string(n) + "]");
  if (length_ + n > capacity_) reserve(std::max(length_ + n, 2 * capacity_));
  Tensor new_mask = narrow(mask_, 1, length_, n);
  if (mask.defined()) copy_into(new_mask, ne(mask, zeros({}, mask.dtype(), mask.device())));
  else fill(new_mask, 1);
  length_ += n;
  return positions_from_mask(mask, rows_, n, real_tokens_);
}

std::pair<Tensor, Tensor> KVCache::store(int64_t layer, const Tensor& k, const Tensor& v) {
  if (layer < 0 || layer >= static_cast<int64_t>(k_.size()))
    throw std::out_of_range("KVCache::store: layer " + std::to_string(layer) + " of " + std::to_string(k_.size()));
  const int64_t n = k.dim() == 4 ? k.size(2) : 0;
  const Shape expected{rows_, kv_heads_, n, head_dim_};
  if (k.shape() != expected || v.shape() != expected || n > length_)
    throw std::invalid_argument("KVCache::store: k " + shape_str(k.shape()) + " and v " + shape_str(v.shape()) +
                                " must be [rows " + std::to_string(rows_) + ", kv_heads " + std::to_string(kv_heads_) +
                                ", n <= " + std::to_string(length_) + ", head_dim " + std::to_string(head_dim_) + "]");
  // The cache holds copies, so no gradient could reach k and v through it.
  if (autograd::grad_enabled() && (k.requires_grad() || v.requires_grad()))
    throw std::logic_error("KVCache::store: the cache is for inference; run it under autograd::NoGradGuard");
  copy_into(narrow(k_[layer], 2, length_ - n, n), k);
  copy_into(narrow(v_[layer], 2, length_ - n, n), v);
  return {narrow(k_[layer], 2, 0, length_), narrow(v_[layer], 2, 0, length_)};
}

Tensor KVCache::key_mask() const { return narrow(mask_, 1, 0, length_); }

void KVCache::select_rows(const std::vector<int64_t>& rows) {
  if (rows.empty()) throw std::invalid_argument("KVCache::select_rows: no rows");
  for (int64_t r : rows)
    if (r < 0 || r >= rows_)
      throw std::out_of_range("KVCache::select_rows: row " + std::to_string(r) + " of " + std::to_string(rows_));
  const int64_t n = static_cast<int64_t>(rows.size());
  // Row by row through copy_into, which every device implements.
  auto gather_rows = [&](Tensor& t) {
    Shape shape = t.shape();
    shape[0] = n;
    Tensor out = empty(shape, t.dtype(), device_);
    for (int64_t i = 0; i < n; ++i) copy_into(select(out, 0, i), select(t, 0, rows[i]));
    t = out;
  };
  for (auto& t : k_) gather_rows(t);
  for (auto& t : v_) gather_rows(t);
  gather_rows(mask_);
  std::vector<int64_t> real(n);
  for (int64_t i = 0; i < n; ++i) real[i] = real_tokens_[rows[i]];
  real_tokens_ = real;
  rows_ = n;
}

}  // namespace emrrg::models
