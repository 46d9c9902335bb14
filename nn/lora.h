// LoRA and Partial LoRA (MambaPEFT, NOTES §5): a low-rank term s * up(dropout(down(x))) added to a
// Linear's output, either to all of it (conventional LoRA) or to one contiguous range of its output
// rows (Partial LoRA: LoRA_p(X) on in_proj's x half, LoRA_p(B) on x_proj's B rows, ...).
// The adapter's parameters live under the Linear it adapts ("in_proj.lora.down.weight",
// "x_proj.lora_b.up.weight"). A Linear over a frozen weight runs its first adapter fused with the
// product (fused_with: ops/lora_linear.h); otherwise the term is composed from linear + dropout
// (add_to), as the patch embedding's convolutional down projection always is (from_rank).
#pragma once
#include <memory>
#include <string>

#include "nn/layers.h"

namespace emrrg::nn {

struct LoraOptions {
  int64_t rank = 32;
  double scale = 1.0;    // the plain factor s (not alpha / rank)
  double dropout = 0.1;  // on the rank-r activation, in training only
};

class LoRA : public LinearAdapter {
 public:
  // down [rank, in] ~ U(-1/sqrt(in), 1/sqrt(in)) (PyTorch's Linear default), no bias;
  // up [out, rank] zeros, no bias: a fresh adapter leaves the Linear's output unchanged.
  // The adapter adds into output rows [row_begin, row_begin + out) of the Linear it is attached to.
  LoRA(int64_t in, int64_t out, const LoraOptions& options, int64_t row_begin = 0, Generator& gen = default_generator(),
       DType dtype = DType::Float32);

  // x [..., in] -> s * up(dropout(down(x))) [..., out]
  Tensor delta(const Tensor& x) const;
  // h [..., rank] (down's output) -> s * up(dropout(h)) [..., out]; the patch embedding's LoRA
  // computes down as a convolution and finishes here.
  Tensor from_rank(const Tensor& h) const;
  // y [..., N] with rows [row_begin, row_begin + out) plus delta(x); N >= row_begin + out.
  Tensor add_to(const Tensor& x, const Tensor& y) const override;
  // x weight^T (+ bias) plus delta(x) as one lora_linear op, the same mask drawn from the same
  // generator; weight [out, in] must not require grad.
  Tensor fused_with(const Tensor& x, const Tensor& weight, const Tensor& bias) const override;

  int64_t rank() const { return down->out_features(); }
  int64_t row_begin() const { return row_begin_; }
  int64_t rows() const { return up->out_features(); }
  double dropout() const { return dropout_->p; }
  std::shared_ptr<Linear> down, up;
  double scale;

 private:
  std::shared_ptr<Dropout> dropout_;
  int64_t row_begin_;
};

// Conventional LoRA on all of `linear`'s output rows, attached as "<linear>.lora".
std::shared_ptr<LoRA> attach_lora(Linear& linear, const LoraOptions& options, Generator& gen = default_generator());

// Partial LoRA on `linear`'s output rows [begin, end), attached as "<linear>.<name>".
std::shared_ptr<LoRA> attach_partial_lora(Linear& linear, const std::string& name, int64_t begin, int64_t end,
                                          const LoraOptions& options, Generator& gen = default_generator());

}  // namespace emrrg::nn
