#include "ops/device_kernels.h"

#include <stdexcept>

namespace emrrg {

namespace {
const DeviceKernels* tables[2] = {nullptr, nullptr};
}  // namespace

void register_device_kernels(DeviceType type, const DeviceKernels* kernels) { tables[static_cast<int>(type)] = kernels; }

const DeviceKernels* registered_device_kernels(DeviceType type) { return tables[static_cast<int>(type)]; }

void no_device_kernel(const char* op, const Tensor& x) {
  throw std::invalid_argument(std::string(op) + ": no kernel for " + x.device().str() + " (tensor " + x.str() + ")");
}

const char* unary_op_name(UnaryOp op) {
  static const char* names[] = {"neg",  "exp",  "log",       "sqrt",     "rsqrt",      "abs",        "sigmoid",    "tanh",
                                "silu", "gelu", "gelu_tanh", "softplus", "add_scalar", "mul_scalar", "pow_scalar", "clamp"};
  return names[static_cast<int>(op)];
}

const char* binary_op_name(BinaryOp op) {
  static const char* names[] = {"add", "sub", "mul", "div", "pow"};
  return names[static_cast<int>(op)];
}

}  // namespace emrrg
