#include "runtime/tensor.h"

#include <atomic>
#include <sstream>
#include <stdexcept>

#include "runtime/device_kernels.h"
#include "runtime/strided_loop.h"

namespace emrrg {

namespace {
std::atomic<uint64_t> next_tensor_id{1};

// Exact conversion routes: float32 through float keeps values; doubles and 64-bit ints must
// not pass through float.
template <typename D, typename S> D convert_value(S v) {
  if constexpr (std::is_same_v<D, bfloat16> || std::is_same_v<D, float16>) {
    return D(static_cast<float>(v));
  } else if constexpr (std::is_same_v<S, bfloat16> || std::is_same_v<S, float16>) {
    return static_cast<D>(static_cast<float>(v));
  } else if constexpr (std::is_same_v<D, bool>) {
    return v != S(0);
  } else {
    return static_cast<D>(v);
  }
}

template <typename D, typename S>
void convert_copy(D* dst, const S* src, const Shape& shape, const Strides& ds, const Strides& ss) {
  strided_for_each<2>(shape, {&ds, &ss}, {0, 0},
                      [&](const int64_t* off, int64_t n, const int64_t* st) {
                        D* d = dst + off[0];
                        const S* s = src + off[1];
                        for (int64_t i = 0; i < n; ++i) d[i * st[0]] = convert_value<D, S>(s[i * st[1]]);
                      });
}
}  // namespace

std::string shape_str(const Shape& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Strides contiguous_strides(const Shape& s) {
  Strides st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= s[i] > 0 ? s[i] : 1;
  }
  return st;
}

TensorImpl::TensorImpl() : id(next_tensor_id++) {}

int64_t Tensor::size(int64_t d) const {
  const int64_t n = dim();
  if (d < -n || d >= n)
    throw std::out_of_range("size(" + std::to_string(d) + ") of tensor with shape " + shape_str(shape()));
  return impl_->shape[d < 0 ? d + n : d];
}

int64_t Tensor::stride(int64_t d) const {
  const int64_t n = dim();
  if (d < -n || d >= n)
    throw std::out_of_range("stride(" + std::to_string(d) + ") of tensor with shape " + shape_str(shape()));
  return impl_->strides[d < 0 ? d + n : d];
}

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;
  int64_t expected = 1;
  for (size_t i = impl_->shape.size(); i-- > 0;) {
    if (impl_->shape[i] == 1) continue;
    if (impl_->strides[i] != expected) return false;
    expected *= impl_->shape[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl_->storage->data()) + impl_->offset * static_cast<int64_t>(element_size());
}

void Tensor::check_dtype(DType expected, const char* what) const {
  if (dtype() != expected)
    throw std::invalid_argument(std::string(what) + ": tensor has dtype " + dtype_name(dtype()) +
                                ", requested " + dtype_name(expected));
}

Tensor& Tensor::set_requires_grad(bool r) {
  if (r && !is_floating(dtype()))
    throw std::invalid_argument(std::string("requires_grad needs a floating dtype, got ") + dtype_name(dtype()));
  impl_->requires_grad = r;
  return *this;
}

double Tensor::item() const {
  if (numel() != 1) throw std::invalid_argument("item() of tensor with shape " + shape_str(shape()));
  Tensor host = device().is_cpu() ? *this : to_device(*this, Device::cpu());
  return dispatch_dtype(dtype(), [&](auto tag) -> double {
    using T = decltype(tag);
    return static_cast<double>(convert_value<double, T>(*static_cast<const T*>(host.raw_data())));
  });
}

template <typename T> std::vector<T> Tensor::to_vector() const {
  Tensor c = to_contiguous(convert(device().is_cpu() ? *this : to_device(*this, Device::cpu()), dtype_of<T>()));
  const T* p = static_cast<const T*>(c.raw_data());
  return std::vector<T>(p, p + c.numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<uint8_t> Tensor::to_vector<uint8_t>() const;
template std::vector<bool> Tensor::to_vector<bool>() const;

std::string Tensor::str() const {
  if (!defined()) return "Tensor(undefined)";
  return "Tensor" + shape_str(shape()) + " " + dtype_name(dtype()) + " " + device().str();
}

Tensor empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape)
    if (d < 0) throw std::invalid_argument("empty(): negative dimension in shape " + shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(impl);
}

Tensor zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  device_backend(device.type).memset(t.raw_data(), 0, t.numel() * t.element_size(), device);
  return t;
}

Tensor ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, Device::cpu());
  fill(t, value);
  return device.is_cpu() ? t : to_device(t, device);
}

Tensor scalar_tensor(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Tensor arange(int64_t n, DType dtype, Device device) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = i;
  Tensor t = from_vector(v, {n}, dtype);
  return device.is_cpu() ? t : to_device(t, device);
}

template <typename T> Tensor from_vector(const std::vector<T>& values, const Shape& shape, DType dtype) {
  if (static_cast<int64_t>(values.size()) != shape_numel(shape))
    throw std::invalid_argument("from_vector: " + std::to_string(values.size()) +
                                " values for shape " + shape_str(shape));
  Tensor t = empty(shape, dtype);
  dispatch_dtype(dtype, [&](auto tag) {
    using D = decltype(tag);
    D* d = static_cast<D*>(t.raw_data());
    for (size_t i = 0; i < values.size(); ++i) d[i] = convert_value<D, T>(values[i]);
  });
  return t;
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&, DType);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, DType);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, const Shape&, DType);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, DType);
template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&, DType);
template <> Tensor from_vector<bool>(const std::vector<bool>& values, const Shape& shape, DType dtype) {
  std::vector<uint8_t> v(values.begin(), values.end());
  return from_vector<uint8_t>(v, shape, dtype == DType::Bool ? DType::Bool : dtype);
}

Tensor make_view(const Tensor& base, const Shape& shape, const Strides& strides, int64_t offset) {
  if (shape.size() != strides.size())
    throw std::invalid_argument("make_view: shape " + shape_str(shape) + " and strides " +
                                shape_str(strides) + " differ in rank");
  // Every reachable element must lie inside the storage.
  int64_t lo = offset, hi = offset;
  bool empty_view = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) throw std::invalid_argument("make_view: negative size in " + shape_str(shape));
    if (shape[i] == 0) empty_view = true;
    const int64_t span = (shape[i] - 1) * strides[i];
    (span < 0 ? lo : hi) += span;
  }
  const int64_t capacity = static_cast<int64_t>(base.storage()->nbytes() / base.element_size());
  if (!empty_view && (lo < 0 || hi >= capacity))
    throw std::out_of_range("make_view: view " + shape_str(shape) + " strides " + shape_str(strides) +
                            " offset " + std::to_string(offset) + " reaches outside a storage of " +
                            std::to_string(capacity) + " elements");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(impl);
}

namespace {
const RuntimeDeviceKernels* registered_kernels[2] = {nullptr, nullptr};

// A CPU tensor with t's geometry over a host copy of t's whole storage.
Tensor host_mirror(const Tensor& t) {
  auto storage = std::make_shared<Storage>(t.storage()->nbytes(), Device::cpu());
  device_backend(t.device().type).copy(storage->data(), Device::cpu(), t.storage()->data(), t.device(), t.storage()->nbytes());
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = storage;
  impl->shape = t.shape();
  impl->strides = t.strides();
  impl->offset = t.offset();
  impl->dtype = t.dtype();
  return Tensor(impl);
}
}  // namespace

void register_runtime_device_kernels(DeviceType type, const RuntimeDeviceKernels* kernels) {
  registered_kernels[static_cast<int>(type)] = kernels;
}

const RuntimeDeviceKernels* runtime_device_kernels(DeviceType type) { return registered_kernels[static_cast<int>(type)]; }

void copy_into(const Tensor& dst, const Tensor& src) {
  if (dst.shape() != src.shape())
    throw std::invalid_argument("copy_into: destination " + shape_str(dst.shape()) + " vs source " +
                                shape_str(src.shape()));
  if (!dst.device().is_cpu() && dst.device() == src.device()) {
    const RuntimeDeviceKernels* k = runtime_device_kernels(dst.device().type);
    if (k && k->copy) {
      k->copy(dst, src);
      return;
    }
  }
  if (!dst.device().is_cpu() || !src.device().is_cpu()) {
    if (dst.dtype() == src.dtype() && dst.is_contiguous() && src.is_contiguous()) {
      DeviceType bt = dst.device().is_cpu() ? src.device().type : dst.device().type;
      device_backend(bt).copy(dst.raw_data(), dst.device(), src.raw_data(), src.device(),
                              dst.numel() * dst.element_size());
      return;
    }
    // Anything else goes through host copies of the whole storages, converted and strided on
    // the CPU: correct for every layout, fast for none.
    Tensor host_src = src.device().is_cpu() ? src : host_mirror(src);
    if (dst.device().is_cpu()) {
      copy_into(dst, host_src);
      return;
    }
    Tensor host_dst = host_mirror(dst);
    copy_into(host_dst, host_src);
    device_backend(dst.device().type)
        .copy(dst.storage()->data(), dst.device(), host_dst.storage()->data(), Device::cpu(), dst.storage()->nbytes());
    return;
  }
  dispatch_dtype(dst.dtype(), [&](auto dtag) {
    using D = decltype(dtag);
    dispatch_dtype(src.dtype(), [&](auto stag) {
      using S = decltype(stag);
      convert_copy<D, S>(static_cast<D*>(dst.raw_data()), static_cast<const S*>(src.raw_data()),
                         dst.shape(), dst.strides(), src.strides());
    });
  });
}

Tensor to_contiguous(const Tensor& src) {
  if (src.is_contiguous()) return src;
  Tensor out = empty(src.shape(), src.dtype(), src.device());
  copy_into(out, src);
  return out;
}

Tensor convert(const Tensor& src, DType dtype) {
  if (src.dtype() == dtype) return src;
  Tensor out = empty(src.shape(), dtype, src.device());
  copy_into(out, src);
  return out;
}

Tensor to_device(const Tensor& src, Device device) {
  if (src.device() == device) return src;
  Tensor c = src.device().is_cpu() ? to_contiguous(src) : src;
  Tensor out = empty(src.shape(), src.dtype(), device);
  copy_into(out, c);
  return out;
}

void add_into(const Tensor& dst, const Tensor& src) {
  if (dst.shape() != src.shape())
    throw std::invalid_argument("add_into: destination " + shape_str(dst.shape()) + " vs source " +
                                shape_str(src.shape()));
  if (!is_floating(dst.dtype())) throw std::invalid_argument("add_into: needs a floating destination, got " + dst.str());
  if (!dst.device().is_cpu()) {
    const RuntimeDeviceKernels* k = runtime_device_kernels(dst.device().type);
    if (k && k->add_into && src.device() == dst.device()) {
      k->add_into(dst, src);
    } else {  // staged through the host
      Tensor host = to_device(to_contiguous(dst), Device::cpu());
      Tensor owned = empty(host.shape(), host.dtype());
      copy_into(owned, host);
      add_into(owned, to_device(src, Device::cpu()));
      copy_into(dst, owned);
    }
    return;
  }
  Tensor s = convert(to_device(src, Device::cpu()), dst.dtype());
  dispatch_dtype(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T> || std::is_same_v<T, bfloat16> || std::is_same_v<T, float16>) {
      using Acc = std::conditional_t<std::is_same_v<T, double>, double, float>;
      T* d = static_cast<T*>(dst.raw_data());
      const T* p = static_cast<const T*>(s.raw_data());
      strided_for_each<2>(dst.shape(), {&dst.strides(), &s.strides()}, {0, 0},
                          [&](const int64_t* off, int64_t n, const int64_t* st) {
                            for (int64_t i = 0; i < n; ++i) {
                              T& x = d[off[0] + i * st[0]];
                              x = static_cast<T>(static_cast<Acc>(x) + static_cast<Acc>(p[off[1] + i * st[1]]));
                            }
                          });
    }
  });
}

void fill(const Tensor& t, double value) {
  if (!t.device().is_cpu()) {
    const RuntimeDeviceKernels* k = runtime_device_kernels(t.device().type);
    if (k && k->fill) {
      k->fill(t, value);
      return;
    }
    copy_into(t, full(t.shape(), value, t.dtype()));
    return;
  }
  dispatch_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T v = convert_value<T, double>(value);
    T* p = static_cast<T*>(t.raw_data());
    strided_for_each<1>(t.shape(), {&t.strides()}, {0}, [&](const int64_t* off, int64_t n, const int64_t* st) {
      for (int64_t i = 0; i < n; ++i) p[off[0] + i * st[0]] = v;
    });
  });
}

}  // namespace emrrg
