// Element types of tensors and the float16/bfloat16 conversions.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace emrrg {

enum class DType : uint8_t { Float32, Float64, BFloat16, Float16, Int32, Int64, UInt8, Bool };

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "float32", "bfloat16", ...
bool is_floating(DType t);
// Parses the names dtype_name returns; throws std::invalid_argument otherwise.
DType dtype_from_name(const std::string& name);

// bfloat16 is the top half of a float32; rounding is to nearest, ties to even, and NaN stays NaN.
inline uint16_t float_to_bf16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
inline float bf16_bits_to_float(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// IEEE binary16, round to nearest even, with subnormals, infinities and NaN.
uint16_t float_to_f16_bits(float f);
float f16_bits_to_float(uint16_t h);

struct bfloat16 {
  uint16_t bits;
  bfloat16() = default;
  explicit bfloat16(float f) : bits(float_to_bf16_bits(f)) {}
  operator float() const { return bf16_bits_to_float(bits); }
};
struct float16 {
  uint16_t bits;
  float16() = default;
  explicit float16(float f) : bits(float_to_f16_bits(f)) {}
  operator float() const { return f16_bits_to_float(bits); }
};

// Maps a C++ element type to its DType.
template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<bfloat16>() { return DType::BFloat16; }
template <> constexpr DType dtype_of<float16>() { return DType::Float16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::Int32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::UInt8; }
template <> constexpr DType dtype_of<bool>() { return DType::Bool; }

// Calls fn(T{}) with the C++ type of `t`.
template <typename Fn> decltype(auto) dispatch_dtype(DType t, Fn&& fn) {
  switch (t) {
    case DType::Float32: return fn(float{});
    case DType::Float64: return fn(double{});
    case DType::BFloat16: return fn(bfloat16{});
    case DType::Float16: return fn(float16{});
    case DType::Int32: return fn(int32_t{});
    case DType::Int64: return fn(int64_t{});
    case DType::UInt8: return fn(uint8_t{});
    case DType::Bool: return fn(bool{});
  }
  return fn(float{});
}

}  // namespace emrrg
