#include "ops/lora_linear.h"

#include "autograd/tape.h"
#include "ops/cpu_gemm.h"
#include "ops/device_kernels.h"
#include "ops/kernel_util.h"
#include "ops/matrix_layout.h"
#include "runtime/threading.h"
#include "runtime/view.h"

namespace emrrg {

namespace {

constexpr const char* kOp = "lora_linear";

using LoraScalars = DeviceKernels::LoraScalars;

void check_args(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& a, const Tensor& b,
                const LoraLinearOptions& o) {
  for (const Tensor* t : {&x, &weight, &a, &b}) detail::check_floating(kOp, *t);
  detail::check_same_dtype(kOp, x, weight);
  detail::check_same_dtype(kOp, a, b);
  if (weight.dim() != 2) detail::op_error(kOp, "weight must be [out, in], got " + shape_str(weight.shape()));
  const int64_t out = weight.shape()[0], in = weight.shape()[1];
  if (x.dim() == 0 || x.shape()[x.dim() - 1] != in)
    detail::op_error(kOp, "x " + shape_str(x.shape()) + " does not end in in_features " + std::to_string(in) +
                              " of weight " + shape_str(weight.shape()));
  if (weight.requires_grad())
    detail::op_error(kOp,
                     "weight " + shape_str(weight.shape()) + " requires grad; the base of a LoRA linear is frozen");
  if (a.dim() != 2 || a.shape()[1] != in)
    detail::op_error(kOp, "lora_a " + shape_str(a.shape()) + " must be [r, in] with in = " + std::to_string(in));
  if (b.dim() != 2 || b.shape()[1] != a.shape()[0])
    detail::op_error(kOp, "lora_b " + shape_str(b.shape()) + " must be [rows, r] with r = " +
                              std::to_string(a.shape()[0]) + " (lora_a " + shape_str(a.shape()) + ")");
  if (o.row0 < 0 || o.row0 + b.shape()[0] > out)
    detail::op_error(kOp, "rows [" + std::to_string(o.row0) + ", " + std::to_string(o.row0 + b.shape()[0]) +
                              ") of the adapter (row0 " + std::to_string(o.row0) + ", lora_b " + shape_str(b.shape()) +
                              ") outside the " + std::to_string(out) + " outputs");
  if (bias.defined()) {
    detail::check_floating(kOp, bias);
    detail::check_same_dtype(kOp, x, bias);
    if (bias.shape() != Shape{out})
      detail::op_error(kOp, "bias " + shape_str(bias.shape()) + " does not match weight " + shape_str(weight.shape()));
  }
  if (!(o.dropout >= 0 && o.dropout <= 1))
    detail::op_error(kOp, "dropout " + std::to_string(o.dropout) + " outside [0, 1]");
  for (const Tensor* t : {&weight, &a, &b, &bias})
    if (t->defined() && t->device() != x.device()) detail::op_error(kOp, "x on " + x.device().str() + ", " + t->str());
}

// x [..., in] as [N, in], a view when the strides allow it.
Tensor rows_of(const Tensor& x) {
  const Shape rows{-1, x.shape()[x.dim() - 1]};
  if (auto v = views::try_reshape(x, rows)) return *v;
  return *views::try_reshape(to_contiguous(x), rows);
}

Tensor reshaped(const Tensor& t, const Shape& shape) { return *views::try_reshape(to_contiguous(t), shape); }

// The dropout mask's scale factors (0 or 1 / keep_prob), in dtype ct: bernoulli_mask's draw
// from (seed, offset), so the backward redraws the forward's mask.
Tensor dropout_scale(const Shape& shape, const LoraScalars& s, DType ct) {
  Generator gen(s.seed, s.offset);
  const Tensor keep = bernoulli_mask(shape, s.keep_prob, gen);
  Tensor scale = empty(shape, ct);
  const double factor = s.keep_prob > 0 ? 1.0 / s.keep_prob : 0.0;
  detail::dispatch_compute(ct, [&](auto tag) {
    using T = decltype(tag);
    const bool* k = keep.data<bool>();
    T* out = scale.data<T>();
    parallel_for(scale.numel(), 16384, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) out[i] = k[i] ? static_cast<T>(factor) : T(0);
    });
    return 0;
  });
  return scale;
}

// a [n, m] *= scale [n, m] elementwise (both contiguous).
template <typename T>
void scale_in_place(T* a, const Tensor& scale) {
  const T* s = scale.data<T>();
  parallel_for(scale.numel(), 16384, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) a[i] *= s[i];
  });
}

// An operand of a CPU GEMM: the compute-type matrix and how BLAS sees it.
template <typename T>
struct Operand {
  Tensor t;
  MatrixLayout layout;
  explicit Operand(const Tensor& m, DType ct) : t(convert(m, ct)), layout(as_blas_operand(t)) {}
  const T* data() const { return static_cast<const T*>(t.raw_data()); }
  // The BLAS transpose flag for op(M) = M (want_transpose false) or M^T.
  bool flag(bool want_transpose) const { return layout.transposed != want_transpose; }
};

// What the CPU backward keeps, in compute type: x with the input dropout applied, [N, in]; the
// rank-r activation after dropout h [N, r]; W, A, B.
struct LoraSaved {
  LoraScalars s;
  DType dtype, adapter_dtype;
  Shape x_shape;
  Tensor xd, h, weight, a, b;
};

std::vector<Tensor> lora_cpu_backward(const LoraSaved& sv, const Tensor& g_out, bool need_dx, bool need_dbias) {
  const DType ct = sv.h.dtype();
  const Tensor g = to_contiguous(convert(rows_of(g_out), ct));  // [N, out]
  const int64_t N = g.shape()[0], out = g.shape()[1], in = sv.xd.shape()[1], r = sv.h.shape()[1];
  const int64_t rows = sv.b.shape()[0];
  Tensor dx, da = empty({r, in}, ct), db = empty({rows, r}, ct), dbias;
  detail::dispatch_compute(ct, [&](auto tag) {
    using T = decltype(tag);
    const Operand<T> xd(sv.xd, ct), w(sv.weight, ct), a(sv.a, ct), b(sv.b, ct);
    const T s = static_cast<T>(sv.s.scale);
    const T* gp = N > 0 ? g.data<T>() + sv.s.row0 : nullptr;  // the adapter's columns of g, rows `out` apart
    // dB = s g_p^T h; dh = s g_p B, then through the rank-site dropout; dA = dh^T drop(x).
    detail::cpu_gemm<T>(true, false, rows, r, N, s, gp, out, sv.h.data<T>(), r, T(0), db.data<T>(), r);
    Tensor dh = empty({N, r}, ct);
    detail::cpu_gemm<T>(false, b.flag(false), N, r, rows, s, gp, out, b.data(), b.layout.ld, T(0), dh.data<T>(), r);
    const bool dropout = sv.s.keep_prob < 1;
    if (dropout && sv.s.dropout_site == LoraDropoutSite::Rank)
      scale_in_place(dh.data<T>(), dropout_scale({N, r}, sv.s, ct));
    detail::cpu_gemm<T>(true, xd.flag(false), r, in, N, T(1), dh.data<T>(), r, xd.data(), xd.layout.ld, T(0),
                        da.data<T>(), in);
    if (need_dx) {
      // dx = g W + (dh A) through the input dropout.
      dx = empty({N, in}, ct);
      detail::cpu_gemm<T>(false, w.flag(false), N, in, out, T(1), g.data<T>(), out, w.data(), w.layout.ld, T(0),
                          dx.data<T>(), in);
      if (dropout && sv.s.dropout_site == LoraDropoutSite::Input) {
        Tensor t = empty({N, in}, ct);
        detail::cpu_gemm<T>(false, a.flag(false), N, in, r, T(1), dh.data<T>(), r, a.data(), a.layout.ld, T(0),
                            t.data<T>(), in);
        scale_in_place(t.data<T>(), dropout_scale({N, in}, sv.s, ct));
        T* d = dx.data<T>();
        const T* tp = t.data<T>();
        parallel_for(N * in, 16384, [&](int64_t lo, int64_t hi) {
          for (int64_t i = lo; i < hi; ++i) d[i] += tp[i];
        });
      } else {
        detail::cpu_gemm<T>(false, a.flag(false), N, in, r, T(1), dh.data<T>(), r, a.data(), a.layout.ld, T(1),
                            dx.data<T>(), in);
      }
    }
    if (need_dbias) {
      dbias = zeros({out}, ct);
      T* acc = dbias.data<T>();
      const T* gr = g.data<T>();
      for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < out; ++j) acc[j] += gr[n * out + j];
    }
    return 0;
  });
  return {need_dx ? reshaped(convert(dx, sv.dtype), sv.x_shape) : Tensor(),
          need_dbias ? convert(dbias, sv.dtype) : Tensor(), convert(da, sv.adapter_dtype),
          convert(db, sv.adapter_dtype)};
}

// y [N, out] = x W^T + bias, then y[:, row0:] += s h B^T with h = drop(x) A^T (dropout at the
// rank site applied to h): three GEMMs, the last accumulating into y's adapter columns.
Tensor lora_cpu_forward(LoraSaved& sv, const Tensor& x2, const Tensor& bias, DType ct) {
  const int64_t N = x2.shape()[0], in = x2.shape()[1], out = sv.weight.shape()[0], r = sv.a.shape()[0];
  const int64_t rows = sv.b.shape()[0];
  Tensor y = empty({N, out}, ct);
  sv.h = empty({N, r}, ct);
  detail::dispatch_compute(ct, [&](auto tag) {
    using T = decltype(tag);
    const bool dropout = sv.s.keep_prob < 1;
    sv.xd = convert(x2, ct);
    if (dropout && sv.s.dropout_site == LoraDropoutSite::Input) {
      sv.xd = empty({N, in}, ct);  // a copy to drop into, never x itself
      copy_into(sv.xd, x2);
      scale_in_place(sv.xd.data<T>(), dropout_scale({N, in}, sv.s, ct));
    }
    const Operand<T> x(x2, ct), xd(sv.xd, ct), w(sv.weight, ct), a(sv.a, ct), b(sv.b, ct);
    T* yp = y.data<T>();
    detail::cpu_gemm<T>(x.flag(false), w.flag(true), N, out, in, T(1), x.data(), x.layout.ld, w.data(), w.layout.ld,
                        T(0), yp, out);
    if (bias.defined()) {
      const Tensor bc = to_contiguous(convert(bias, ct));
      const T* bp = bc.data<T>();
      parallel_for(N, std::max<int64_t>(1, 16384 / std::max<int64_t>(out, 1)), [&](int64_t lo, int64_t hi) {
        for (int64_t n = lo; n < hi; ++n)
          for (int64_t j = 0; j < out; ++j) yp[n * out + j] += bp[j];
      });
    }
    T* h = sv.h.data<T>();
    detail::cpu_gemm<T>(xd.flag(false), a.flag(true), N, r, in, T(1), xd.data(), xd.layout.ld, a.data(), a.layout.ld,
                        T(0), h, r);
    if (dropout && sv.s.dropout_site == LoraDropoutSite::Rank) scale_in_place(h, dropout_scale({N, r}, sv.s, ct));
    if (N == 0) return 0;  // (y's data may be null)
    detail::cpu_gemm<T>(false, b.flag(true), N, rows, r, static_cast<T>(sv.s.scale), h, r, b.data(), b.layout.ld, T(1),
                        yp + sv.s.row0, out);
    return 0;
  });
  return y;
}

}  // namespace

Tensor lora_linear(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& lora_a,
                   const Tensor& lora_b, double scale, const LoraLinearOptions& options) {
  check_args(x, weight, bias, lora_a, lora_b, options);
  auto sv = std::make_shared<LoraSaved>();
  LoraScalars& s = sv->s;
  s = {scale, options.row0, options.dropout_site, 1.0, 0, 0};
  if (options.training && options.dropout > 0) {
    // One offset of the generator, as dropout() draws its mask.
    Generator& gen = options.generator ? *options.generator : default_generator();
    s.keep_prob = 1.0 - options.dropout;
    s.seed = gen.seed();
    s.offset = gen.next_offset();
  }
  sv->dtype = x.dtype();
  sv->adapter_dtype = lora_a.dtype();
  sv->x_shape = x.shape();
  Shape y_shape = x.shape();
  y_shape.back() = weight.shape()[0];
  const Tensor x2 = rows_of(x);
  const bool need_dx = x.requires_grad(), need_dbias = bias.defined() && bias.requires_grad();

  if (!x.device().is_cpu()) {
    const std::vector<Tensor> fwd =
        device_kernel(kOp, x, &DeviceKernels::lora_linear_forward)(x2, weight, bias, lora_a, lora_b, s);
    const Tensor y = reshaped(fwd[0], y_shape);
    autograd::record(kOp, {x, bias, lora_a, lora_b}, {y},
                     [=, h = fwd[1], x_shape = x.shape()](const std::vector<Tensor>& g) {
                       const Tensor g2 = rows_of(g[0].dtype() == x2.dtype() ? g[0] : convert(g[0], x2.dtype()));
                       std::vector<Tensor> d = device_kernel(kOp, x2, &DeviceKernels::lora_linear_backward)(
                           x2, weight, lora_a, lora_b, h, g2, s, need_dx, need_dbias);
                       return std::vector<Tensor>{need_dx ? reshaped(d[0], x_shape) : Tensor(), d[3], d[1], d[2]};
                     });
    return y;
  }

  const DType ct = x.dtype() == DType::Float64 || lora_a.dtype() == DType::Float64 ? DType::Float64 : DType::Float32;
  sv->weight = convert(weight, ct);
  sv->a = convert(lora_a, ct);
  sv->b = convert(lora_b, ct);
  const Tensor y = reshaped(convert(lora_cpu_forward(*sv, x2, bias, ct), x.dtype()), y_shape);
  autograd::record(kOp, {x, bias, lora_a, lora_b}, {y}, [sv, need_dx, need_dbias](const std::vector<Tensor>& g) {
    return lora_cpu_backward(*sv, g[0], need_dx, need_dbias);
  });
  return y;
}

}  // namespace emrrg
