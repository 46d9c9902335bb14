#include "cuda/kernel_registration.h"

#include "cuda/gemm.h"
#include "cuda/kernels/adamw.h"
#include "cuda/kernels/attention.h"
#include "cuda/kernels/causal_conv1d.h"
#include "cuda/kernels/dropout.h"
#include "cuda/kernels/elementwise.h"
#include "cuda/kernels/gated_cross_attention.h"
#include "cuda/kernels/indexing.h"
#include "cuda/kernels/lora_linear.h"
#include "cuda/kernels/norm.h"
#include "cuda/kernels/reduce.h"
#include "cuda/kernels/rotary.h"
#include "cuda/kernels/selective_scan.h"
#include "cuda/kernels/softmax.h"
#include "cuda/kernels/swiglu.h"
#include "ops/device_kernels.h"
#include "runtime/device_kernels.h"

namespace emrrg::cuda {

void register_cuda_kernels() {
  static const DeviceKernels ops = [] {
    DeviceKernels k;
    k.unary = &unary;
    k.unary_backward = &unary_backward;
    k.binary = &binary;
    k.binary_backward = &binary_backward;
    k.sum_rows = &sum_rows;
    k.matmul = &matmul;
    k.softmax_rows = &softmax_rows;
    k.softmax_rows_backward = &softmax_rows_backward;
    k.cross_entropy_rows = &cross_entropy_rows;
    k.cross_entropy_rows_backward = &cross_entropy_rows_backward;
    k.norm_rows = &norm_rows;
    k.norm_rows_backward = &norm_rows_backward;
    k.index_select = &index_select;
    k.index_add = &index_add;
    k.gather = &gather;
    k.gather_backward = &gather_backward;
    k.argmax_rows = &argmax_rows;
    k.var_rows = &var_rows;
    k.dropout_scale = &dropout_scale;
    k.adamw_step = &adamw_step;
    k.attention_forward = &attention_forward;
    k.attention_backward = &attention_backward;
    k.rotary = &rotary;
    k.swiglu_forward = &swiglu_forward;
    k.swiglu_backward = &swiglu_backward;
    k.selective_scan_forward = &selective_scan_forward;
    k.selective_scan_backward = &selective_scan_backward;
    k.causal_conv1d_forward = &causal_conv1d_forward;
    k.causal_conv1d_backward = &causal_conv1d_backward;
    k.gated_cross_attention_forward = &gated_cross_attention_forward;
    k.gated_cross_attention_backward = &gated_cross_attention_backward;
    k.lora_linear_forward = &lora_linear_forward;
    k.lora_linear_backward = &lora_linear_backward;
    return k;
  }();
  static const RuntimeDeviceKernels runtime = [] {
    RuntimeDeviceKernels k;
    k.copy = &copy;
    k.add_into = &add_into;
    k.fill = &fill;
    return k;
  }();
  register_device_kernels(DeviceType::CUDA, &ops);
  register_runtime_device_kernels(DeviceType::CUDA, &runtime);
}

}  // namespace emrrg::cuda
