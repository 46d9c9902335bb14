// Tensor: a cheap-to-copy handle to (storage, shape, strides, offset, dtype). Copies of a
// Tensor alias the same data; views share the storage. Autograd state (requires_grad, grad,
// whether an op produced it) lives here so autograd/ can attach to any tensor.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "runtime/dtype.h"
#include "runtime/storage.h"

namespace emrrg {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;  // in elements, not bytes

std::string shape_str(const Shape& s);  // "[2, 3]"
int64_t shape_numel(const Shape& s);
Strides contiguous_strides(const Shape& s);

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Strides strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::Float32;

  // Autograd state. `id` is unique for the life of the process; the tape refers to tensors by
  // it so a freed tensor can never be confused with a new one at the same address.
  uint64_t id;
  bool requires_grad = false;
  bool has_grad_fn = false;  // produced by a recorded op (not a leaf)
  std::shared_ptr<TensorImpl> grad;

  TensorImpl();
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl_->shape; }
  const Strides& strides() const { return impl_->strides; }
  int64_t dim() const { return static_cast<int64_t>(impl_->shape.size()); }
  int64_t size(int64_t d) const;    // negative d counts from the end
  int64_t stride(int64_t d) const;
  int64_t numel() const { return shape_numel(impl_->shape); }
  int64_t offset() const { return impl_->offset; }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->storage->device(); }
  size_t element_size() const { return dtype_size(impl_->dtype); }
  const std::shared_ptr<Storage>& storage() const { return impl_->storage; }
  bool is_contiguous() const;

  // Address of element [0, 0, ...]; typed access checks the dtype.
  void* raw_data() const;
  template <typename T> T* data() const {
    check_dtype(dtype_of<T>(), "data<T>()");
    return static_cast<T*>(raw_data());
  }

  // Autograd.
  bool requires_grad() const { return impl_->requires_grad; }
  Tensor& set_requires_grad(bool r = true);
  bool is_leaf() const { return !impl_->has_grad_fn; }
  Tensor grad() const { return Tensor(impl_->grad); }
  void set_grad(const Tensor& g) { impl_->grad = g.impl_; }
  uint64_t id() const { return impl_->id; }

  // Reads one element as double, whatever the dtype (tests and scalar results).
  double item() const;
  // Copies the elements (logical order) to a host vector, converting to T.
  template <typename T> std::vector<T> to_vector() const;

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  std::string str() const;  // "Tensor[2, 3] float32 cpu"

 private:
  void check_dtype(DType expected, const char* what) const;
  std::shared_ptr<TensorImpl> impl_;
};

// Factories (no autograd recorded; set_requires_grad afterwards for leaves).
Tensor empty(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor zeros(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor ones(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor full(const Shape& shape, double value, DType dtype = DType::Float32,
            Device device = Device::cpu());
Tensor scalar_tensor(double value, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor arange(int64_t n, DType dtype = DType::Int64, Device device = Device::cpu());
// Builds a CPU tensor from host values, converted to `dtype`; values.size() must equal numel.
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, DType dtype = dtype_of<T>());
// A tensor that views `base`'s storage with a new geometry (bounds are checked).
Tensor make_view(const Tensor& base, const Shape& shape, const Strides& strides, int64_t offset);

// Copies src into dst elementwise (same shape, any strides, any dtypes, any devices).
void copy_into(const Tensor& dst, const Tensor& src);
// A contiguous copy of src (converted to `dtype`) on `device`.
Tensor to_contiguous(const Tensor& src);
Tensor convert(const Tensor& src, DType dtype);
Tensor to_device(const Tensor& src, Device device);
// dst += src elementwise (same shape, floating dtypes); used to accumulate gradients.
void add_into(const Tensor& dst, const Tensor& src);
// Sets every element of t (any strides) to value.
void fill(const Tensor& t, double value);

}  // namespace emrrg
