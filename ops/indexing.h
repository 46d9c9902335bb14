// Joining, splitting and indexing. Index tensors are int32 or int64; every index is
// range-checked and an out-of-range one is reported with its value and the valid range.
#pragma once
#include <vector>

#include "runtime/tensor.h"

namespace emrrg {

Tensor cat(const std::vector<Tensor>& xs, int64_t dim);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim);
// Pieces of `size` along dim (the last may be smaller); views of x.
std::vector<Tensor> split(const Tensor& x, int64_t size, int64_t dim);
// `chunks` pieces of ceil(n / chunks) along dim, as torch.chunk.
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim);
// x with dim replaced by the entries of the 1-D `index`.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// out[..., i, ...] = x[..., index[..., i, ...], ...] along dim; index has x's rank.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// Rows of weight [V, D] picked by ids of any shape -> [ids..., D]; the backward adds each
// gradient row into the row it came from.
Tensor embedding(const Tensor& weight, const Tensor& ids);

}  // namespace emrrg
