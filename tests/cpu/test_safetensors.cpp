#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "runtime/random.h"
#include "runtime/safetensors.h"
#include "runtime/view.h"

namespace emrrg {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("emrrg_test_" + std::to_string(::getpid()) + "_" + name)).string();
}

void write_raw(const std::string& path, const std::string& header, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
  out << header << data;
}

std::string error_of(const std::string& path) {
  try {
    SafetensorsFile::open(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, RoundTripsEveryDtype) {
  Generator gen(1);
  Tensor f = rand_uniform({3, 5}, -1, 1, gen);
  std::map<std::string, Tensor> tensors = {
      {"f32", f},
      {"f64", convert(f, DType::Float64)},
      {"bf16", convert(f, DType::BFloat16)},
      {"f16", convert(f, DType::Float16)},
      {"i32", from_vector<int32_t>({1, -2, 3}, {3})},
      {"i64", from_vector<int64_t>({int64_t{1} << 40, -5}, {2})},
      {"u8", from_vector<uint8_t>({0, 255, 7}, {3})},
      {"bool", from_vector<bool>({true, false}, {2})},
      {"transposed", views::transpose(f, 0, 1)},  // non-contiguous input is written in logical order
      {"scalar", scalar_tensor(2.5)},
      {"empty", empty({0, 4})},
  };
  const std::string path = temp_path("roundtrip.safetensors");
  save_safetensors(path, tensors, {{"format", "pt"}});
  SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.names().size(), tensors.size());
  EXPECT_EQ(file.metadata().at("format"), "pt");
  for (const auto& [name, t] : tensors) {
    Tensor back = file.get(name);
    EXPECT_EQ(back.dtype(), t.dtype()) << name;
    EXPECT_EQ(back.shape(), t.shape()) << name;
    EXPECT_EQ(back.to_vector<double>(), t.to_vector<double>()) << name;
  }
  std::remove(path.c_str());
}

TEST(Safetensors, TensorsOutliveTheFileObject) {
  const std::string path = temp_path("lifetime.safetensors");
  save_safetensors(path, {{"w", from_vector<float>({1, 2, 3}, {3})}});
  Tensor t;
  { t = SafetensorsFile::open(path).get("w"); }
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, 3}));
  std::remove(path.c_str());
}

TEST(Safetensors, CorruptFilesGiveClearErrors) {
  const std::string path = temp_path("bad.safetensors");
  {
    std::ofstream(path, std::ios::binary) << "abc";
    EXPECT_NE(error_of(path).find("shorter than the 8-byte header"), std::string::npos);
  }
  write_raw(path, "{\"a\":", "");
  EXPECT_NE(error_of(path).find("not valid JSON"), std::string::npos);
  write_raw(path, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "1234");  // truncated data
  EXPECT_NE(error_of(path).find("outside the data section"), std::string::npos) << error_of(path);
  write_raw(path, R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", "12345678");
  EXPECT_NE(error_of(path).find("needs 12 bytes"), std::string::npos);
  write_raw(path, R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", "12345678");
  EXPECT_NE(error_of(path).find("unsupported dtype 'Q4'"), std::string::npos);
  write_raw(path,
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
            "123456789012");
  EXPECT_NE(error_of(path).find("overlap"), std::string::npos);
  write_raw(path, R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", "12345678");
  EXPECT_NE(error_of(path).find("shape entry"), std::string::npos);
  write_raw(path, R"({"a":{"dtype":"F32","shape":[2]}})", "12345678");
  EXPECT_NE(error_of(path).find("lacks dtype, shape or data_offsets"), std::string::npos);
  {  // header length larger than the file
    std::ofstream out(path, std::ios::binary);
    const char len[8] = {char(0xff), char(0xff), 0, 0, 0, 0, 0, 0};
    out.write(len, 8);
    out << "{}";
  }
  EXPECT_NE(error_of(path).find("exceeds the file size"), std::string::npos);
  EXPECT_NE(error_of(path).find(path), std::string::npos);  // errors name the file
  EXPECT_NE(error_of(temp_path("missing")).find("cannot open"), std::string::npos);
  std::remove(path.c_str());
}

TEST(Safetensors, UnalignedDataIsCopied) {
  // A header whose length is not a multiple of 8 leaves the data misaligned for float32.
  const std::string path = temp_path("unaligned.safetensors");
  float v[2] = {1.5f, -2.0f};
  write_raw(path, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(reinterpret_cast<char*>(v), 8));
  EXPECT_EQ(SafetensorsFile::open(path).get("a").to_vector<float>(), (std::vector<float>{1.5f, -2.0f}));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace emrrg
