#include "nn/lora.h"

#include <stdexcept>
#include <vector>

#include "ops/elementwise.h"
#include "ops/indexing.h"
#include "ops/lora_linear.h"
#include "ops/shape.h"

namespace emrrg::nn {

LoRA::LoRA(int64_t in, int64_t out, const LoraOptions& options, int64_t row_begin, Generator& gen, DType dtype)
    : scale(options.scale), row_begin_(row_begin) {
  if (options.rank <= 0 || in <= 0 || out <= 0 || row_begin < 0)
    throw std::invalid_argument("LoRA: rank " + std::to_string(options.rank) + ", in " + std::to_string(in) + ", out " +
                                std::to_string(out) + ", row_begin " + std::to_string(row_begin) +
                                ": sizes must be positive and row_begin >= 0");
  if (options.dropout < 0.0 || options.dropout >= 1.0)
    throw std::invalid_argument("LoRA: dropout " + std::to_string(options.dropout) + " is not in [0, 1)");
  down = register_module("down", std::make_shared<Linear>(in, options.rank, false, gen, dtype));
  up = register_module("up", std::make_shared<Linear>(options.rank, out, false, gen, dtype));
  fill(up->weight, 0.0);
  dropout_ = register_module("dropout", std::make_shared<Dropout>(options.dropout));
}

Tensor LoRA::from_rank(const Tensor& h) const { return up->forward(dropout_->forward(h)) * scale; }

Tensor LoRA::delta(const Tensor& x) const { return from_rank(down->forward(x)); }

Tensor LoRA::add_to(const Tensor& x, const Tensor& y) const {
  const int64_t last = y.dim() - 1, width = y.shape()[last], n = rows();
  if (row_begin_ + n > width)
    throw std::invalid_argument("LoRA: adapter rows [" + std::to_string(row_begin_) + ", " +
                                std::to_string(row_begin_ + n) + ") exceed the output width " + std::to_string(width) +
                                " of " + shape_str(y.shape()));
  Tensor d = delta(x);
  if (n == width) return y + d;
  std::vector<Tensor> pieces;
  if (row_begin_ > 0) pieces.push_back(narrow(y, last, 0, row_begin_));
  pieces.push_back(narrow(y, last, row_begin_, n) + d);
  if (row_begin_ + n < width) pieces.push_back(narrow(y, last, row_begin_ + n, width - row_begin_ - n));
  return cat(pieces, last);
}

Tensor LoRA::fused_with(const Tensor& x, const Tensor& weight, const Tensor& bias) const {
  // The dropout sits on the rank activation (MambaPEFT's up(dropout(down(x))), for the LLM's
  // adapters too) and lora_linear draws its mask as Dropout does: one offset of the same
  // generator, element i of the contiguous [..., rank] activation.
  const LoraLinearOptions options{row_begin_, dropout_->p, LoraDropoutSite::Rank, dropout_->is_training(),
                                  &dropout_->generator()};
  return lora_linear(x, weight, bias, down->weight, up->weight, scale, options);
}

std::shared_ptr<LoRA> attach_lora(Linear& linear, const LoraOptions& options, Generator& gen) {
  return attach_partial_lora(linear, "lora", 0, linear.out_features(), options, gen);
}

std::shared_ptr<LoRA> attach_partial_lora(Linear& linear, const std::string& name, int64_t begin, int64_t end,
                                          const LoraOptions& options, Generator& gen) {
  if (begin < 0 || end <= begin || end > linear.out_features())
    throw std::invalid_argument("attach_partial_lora '" + name + "': rows [" + std::to_string(begin) + ", " +
                                std::to_string(end) + ") are not a range inside the " +
                                std::to_string(linear.out_features()) + " output rows");
  auto adapter = std::make_shared<LoRA>(linear.in_features(), end - begin, options, begin, gen, linear.weight.dtype());
  linear.attach(name, adapter);
  return adapter;
}

}  // namespace emrrg::nn
