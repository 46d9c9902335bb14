#include "ops/conv.h"

#include "ops/elementwise.h"
#include "ops/kernel_util.h"
#include "ops/matmul.h"
#include "ops/shape.h"

namespace emrrg {

Tensor patch_conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  if (x.dim() != 4) detail::op_error("patch_conv2d", "input must be [B, C, H, W], got " + shape_str(x.shape()));
  if (weight.dim() != 4 || weight.shape()[2] != weight.shape()[3] || weight.shape()[1] != x.shape()[1])
    detail::op_error("patch_conv2d", "weight " + shape_str(weight.shape()) + " is not [O, C, P, P] for input " +
                                         shape_str(x.shape()));
  const int64_t B = x.shape()[0], C = x.shape()[1], P = weight.shape()[2], O = weight.shape()[0];
  const int64_t Hp = x.shape()[2] / P, Wp = x.shape()[3] / P;
  if (Hp == 0 || Wp == 0)
    detail::op_error("patch_conv2d", "image " + shape_str(x.shape()) + " smaller than a patch of " + std::to_string(P));
  Tensor crop = slice(slice(x, 2, 0, Hp * P), 3, 0, Wp * P);
  // [B, C, Hp, P, Wp, P] -> [B, Hp, Wp, C, P, P] -> one row per patch
  Tensor patches = reshape(permute(reshape(crop, {B, C, Hp, P, Wp, P}), {0, 2, 4, 1, 3, 5}), {B * Hp * Wp, C * P * P});
  Tensor y = linear(patches, reshape(weight, {O, C * P * P}), bias);  // [B*Hp*Wp, O]
  return permute(reshape(y, {B, Hp, Wp, O}), {0, 3, 1, 2});
}

}  // namespace emrrg
