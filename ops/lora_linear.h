// A frozen Linear with a LoRA adapter as one op:
//   y = x W^T (+ bias),  y[..., row0 : row0 + rows] += scale * (drop(x) A^T) B^T
// with W never trained and never merged with the adapter (no W + scale * B A is formed), and
// only A, B (and a trainable bias) receiving gradients. A row range is Partial LoRA
// (MambaPEFT's LoRA_p(X), LoRA_p(B), ...): the adapter adds into some output rows only.
#pragma once
#include "runtime/random.h"
#include "runtime/tensor.h"

namespace emrrg {

// Where the adapter's dropout sits: on its input (Hugging Face PEFT and Microsoft's loralib,
// used on the LLM's projections) or on the rank-r activation between A and B (MambaPEFT's
// Adapter: up(dropout(down(x))), used on the vision encoder).
enum class LoraDropoutSite { Input, Rank };

struct LoraLinearOptions {
  int64_t row0 = 0;      // the first output row the adapter adds into; lora_b has `rows` rows
  double dropout = 0.0;  // drop probability, applied in training only
  LoraDropoutSite dropout_site = LoraDropoutSite::Input;
  bool training = false;
  // The dropout mask's Philox stream (one offset per call, as dropout() draws it); null means
  // default_generator(). The same (seed, offset) drops the same elements on every device.
  Generator* generator = nullptr;
};

// x: [..., in]; weight: [out, in], frozen (must not require grad); bias: [out] or undefined;
// lora_a: [r, in]; lora_b: [rows, r] with options.row0 + rows <= out; scale: the adapter's plain
// factor s. x, weight and bias share a floating dtype, lora_a and lora_b share one (possibly
// another: a bf16 base with float32 adapters); 16-bit types compute in float32. Any strides.
// Returns [..., out] in x's dtype, contiguous. Differentiable in x, lora_a, lora_b and bias.
Tensor lora_linear(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& lora_a,
                   const Tensor& lora_b, double scale, const LoraLinearOptions& options = {});

}  // namespace emrrg
