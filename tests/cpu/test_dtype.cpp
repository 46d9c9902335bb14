#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "runtime/tensor.h"

namespace emrrg {
namespace {

TEST(DType, Bfloat16RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16_bits(1.0f), 0x3f80);
  // 1 + 2^-8 is exactly halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
  EXPECT_EQ(float_to_bf16_bits(1.00390625f), 0x3f80);
  // 1 + 3*2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): rounds up.
  EXPECT_EQ(float_to_bf16_bits(1.01171875f), 0x3f82);
  EXPECT_EQ(float_to_bf16_bits(1.0f + 0.0039f), 0x3f80);  // below halfway
  EXPECT_EQ(float_to_bf16_bits(1.0f + 0.0040f), 0x3f81);  // above halfway
  EXPECT_TRUE(std::isnan(bf16_bits_to_float(float_to_bf16_bits(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_EQ(bf16_bits_to_float(float_to_bf16_bits(-2.5f)), -2.5f);
  EXPECT_TRUE(std::isinf(bf16_bits_to_float(float_to_bf16_bits(std::numeric_limits<float>::max()))));
}

TEST(DType, Float16RoundTripAndRounding) {
  EXPECT_EQ(float_to_f16_bits(1.0f), 0x3c00);
  EXPECT_EQ(float_to_f16_bits(-2.0f), 0xc000);
  EXPECT_EQ(float_to_f16_bits(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_f16_bits(65520.0f), 0x7c00);  // rounds to infinity
  EXPECT_EQ(float_to_f16_bits(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(float_to_f16_bits(std::ldexp(1.0f, -25)), 0x0000);  // halfway to zero: even
  EXPECT_EQ(float_to_f16_bits(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 units: ties to even (2)
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: stays at 1.
  EXPECT_EQ(float_to_f16_bits(1.00048828125f), 0x3c00);
  EXPECT_EQ(float_to_f16_bits(1.00146484375f), 0x3c02);  // 1 + 3*2^-11 -> up to even
  // Every finite half value converts to float and back exactly.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00) continue;
    EXPECT_EQ(float_to_f16_bits(f16_bits_to_float(static_cast<uint16_t>(h))), h) << "bits " << h;
  }
  EXPECT_TRUE(std::isnan(f16_bits_to_float(float_to_f16_bits(NAN))));
}

TEST(DType, ConvertBetweenAllDtypes) {
  Tensor f = from_vector<float>({-3.5f, 0.0f, 1.25f, 200.0f}, {4});
  for (DType t : {DType::Float64, DType::BFloat16, DType::Float16, DType::Int32, DType::Int64}) {
    Tensor c = convert(f, t);
    EXPECT_EQ(c.dtype(), t);
    std::vector<double> v = c.to_vector<double>();
    EXPECT_EQ(v[2], is_floating(t) ? 1.25 : 1.0) << dtype_name(t);
    EXPECT_EQ(v[3], 200.0) << dtype_name(t);
  }
  EXPECT_EQ(convert(f, DType::UInt8).to_vector<double>()[3], 200.0);
  std::vector<double> b = convert(f, DType::Bool).to_vector<double>();
  EXPECT_EQ(b, (std::vector<double>{1, 0, 1, 1}));
  EXPECT_EQ(dtype_from_name("bfloat16"), DType::BFloat16);
  EXPECT_THROW(dtype_from_name("float8"), std::invalid_argument);
}

}  // namespace
}  // namespace emrrg
