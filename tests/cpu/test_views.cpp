// Views share storage and never copy; contiguous() and reshape copy only when they must.
#include <gtest/gtest.h>

#include "ops/ops.h"

namespace emrrg {
namespace {

Tensor iota(const Shape& s) {
  std::vector<float> v(static_cast<size_t>(shape_numel(s)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  return from_vector(v, s);
}

TEST(Views, ShareStorageWithoutCopy) {
  Tensor x = iota({2, 3, 4});
  for (const Tensor& v : {transpose(x, 0, 2), permute(x, {1, 2, 0}), slice(x, 2, 1, 3), narrow(x, 1, 1, 2),
                          select(x, 0, 1), expand(unsqueeze(x, 0), {3, 2, 3, 4}), squeeze(unsqueeze(x, 1), 1),
                          flip(x, {1}), reshape(x, {6, 4}), as_strided(x, {3, 3}, {1, 1}, 0)})
    EXPECT_EQ(v.storage().get(), x.storage().get()) << shape_str(v.shape());
  // Writing through a view changes the base.
  fill(select(x, 1, 2), -1.0);
  EXPECT_EQ(x.to_vector<float>()[8], -1.0f);
  EXPECT_EQ(x.to_vector<float>()[11], -1.0f);
}

TEST(Views, ValuesFollowTheGeometry) {
  Tensor x = iota({2, 3});
  EXPECT_EQ(transpose(x, 0, 1).to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(flip(x, {1}).to_vector<float>(), (std::vector<float>{2, 1, 0, 5, 4, 3}));
  EXPECT_EQ(flip(x, {0, 1}).to_vector<float>(), (std::vector<float>{5, 4, 3, 2, 1, 0}));
  EXPECT_EQ(slice(x, 1, 0, 3, 2).to_vector<float>(), (std::vector<float>{0, 2, 3, 5}));
  EXPECT_EQ(expand(slice(x, 0, 1, 2), {3, 3}).to_vector<float>(), (std::vector<float>{3, 4, 5, 3, 4, 5, 3, 4, 5}));
  EXPECT_EQ(as_strided(x, {2, 2}, {1, 2}, 1).to_vector<float>(), (std::vector<float>{1, 3, 2, 4}));
  EXPECT_EQ(select(x, 1, -1).to_vector<float>(), (std::vector<float>{2, 5}));
}

TEST(Views, ContiguousCopiesOnlyWhenNeeded) {
  Tensor x = iota({3, 4});
  EXPECT_EQ(contiguous(x).impl(), x.impl());
  Tensor t = transpose(x, 0, 1);
  EXPECT_FALSE(t.is_contiguous());
  Tensor c = contiguous(t);
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_NE(c.storage().get(), x.storage().get());
  EXPECT_EQ(c.to_vector<float>(), t.to_vector<float>());
  // A reshape that splits a contiguous dim of a transposed tensor is still a view...
  Tensor r = reshape(transpose(iota({4, 6}), 0, 1), {2, 3, 4});
  EXPECT_EQ(r.strides(), (Strides{3, 1, 6}));
  // ...but merging the two transposed dims needs a copy.
  Tensor m = reshape(t, {12});
  EXPECT_NE(m.storage().get(), x.storage().get());
  EXPECT_EQ(m.to_vector<float>(), t.to_vector<float>());
  EXPECT_TRUE(is_floating(m.dtype()));
}

TEST(Views, SizeOneDimsDoNotBreakContiguity) {
  Tensor x = iota({1, 4});
  Tensor t = transpose(x, 0, 1);  // [4, 1] with strides [1, 4]
  EXPECT_TRUE(t.is_contiguous());
}

TEST(Views, BadArgumentsNameTheOpAndShape) {
  Tensor x = iota({2, 3});
  try {
    reshape(x, {4, 2});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("reshape"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("[4, 2]"), std::string::npos);
  }
  EXPECT_THROW(permute(x, {0, 0}), std::invalid_argument);
  EXPECT_THROW(expand(x, {3, 3}), std::invalid_argument);
  EXPECT_THROW(narrow(x, 1, 2, 2), std::out_of_range);
  EXPECT_THROW(select(x, 0, 2), std::out_of_range);
  EXPECT_THROW(transpose(x, 0, 2), std::out_of_range);
  EXPECT_THROW(as_strided(x, {4}, {2}, 0), std::invalid_argument);  // reaches element 6
  try {
    add(x, iota({3, 2}));
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("add: shapes [2, 3] and [3, 2]"), std::string::npos) << e.what();
  }
  try {
    matmul(x, iota({2, 3}));
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("matmul"), std::string::npos);
  }
  EXPECT_THROW(add(x, convert(x, DType::Float64)), std::invalid_argument);
}

}  // namespace
}  // namespace emrrg
