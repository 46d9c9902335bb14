// models/llama against transformers (tests/fixtures/llama/*_golden.safetensors, written by
// tests/golden/make_llama_golden.py) and llama2.c (stories260K), and the loaders' errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

#include "autograd/tape.h"
#include "models/llama/llama_loader.h"
#include "models/generation/search.h"
#include "models/llama/llama_step_decoder.h"
#include "ops/ops.h"
#include "runtime/safetensors.h"
#include "train/data/llama2c_tokenizer.h"
#include "train/text_generation.h"

namespace emrrg {
namespace {

namespace fs = std::filesystem;
using models::Llama;

const std::string kFixtures = std::string(EMRRG_FIXTURES_DIR) + "/llama";

// A fresh folder under the temp dir, removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path = fs::temp_directory_path() /
           ("emrrg_llama_" + std::to_string(getpid()) + "_" + info->test_suite_name() + "_" + info->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// |a - b| <= tol elementwise (the first five failures are reported).
void expect_close(const Tensor& a, const Tensor& b, double tol, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  const auto av = a.to_vector<double>(), bv = b.to_vector<double>();
  int reported = 0;
  for (size_t i = 0; i < av.size() && reported < 5; ++i)
    if (!(std::abs(av[i] - bv[i]) <= tol)) {
      ADD_FAILURE() << what << " at " << i << ": " << av[i] << " vs " << bv[i];
      ++reported;
    }
}

// Non-pad positions of [B, L, V] logits as a [n, V] tensor, in row order.
Tensor real_positions(const Tensor& logits, const Tensor& mask) {
  std::vector<int64_t> keep;
  const auto m = mask.to_vector<int64_t>();
  for (size_t i = 0; i < m.size(); ++i)
    if (m[i]) keep.push_back(static_cast<int64_t>(i));
  return index_select(reshape(logits, {-1, logits.size(2)}), 0, from_vector(keep, {static_cast<int64_t>(keep.size())}));
}

std::vector<std::vector<int64_t>> prompts_of(const Tensor& ids, const Tensor& mask) {
  const auto v = ids.to_vector<int64_t>(), m = mask.to_vector<int64_t>();
  const int64_t B = ids.size(0), L = ids.size(1);
  std::vector<std::vector<int64_t>> out(B);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < L; ++i)
      if (m[b * L + i]) out[b].push_back(v[b * L + i]);
  return out;
}

class GoldenLlama : public ::testing::TestWithParam<std::string> {
 protected:
  std::string folder() const { return kFixtures + "/" + GetParam(); }
  SafetensorsFile golden() const { return SafetensorsFile::open(kFixtures + "/" + GetParam() + "_golden.safetensors"); }
};

TEST_P(GoldenLlama, PaddedBatchLogitsMatchTransformers) {
  const SafetensorsFile g = golden();
  auto model = models::load_hf_llama(folder());
  autograd::NoGradGuard no_grad;
  const Tensor mask = g.get("attention_mask");
  const Tensor logits = model->forward(g.get("input_ids"), mask);
  expect_close(real_positions(logits, mask), real_positions(g.get("logits"), mask), 1e-5, "logits");
}

TEST_P(GoldenLlama, EveryParameterGradientMatchesTransformers) {
  const SafetensorsFile g = golden();
  auto model = models::load_hf_llama(folder());
  const Tensor mask = g.get("attention_mask");
  const Tensor logits = model->forward(g.get("input_ids"), mask);
  const Tensor loss = sum(logits * g.get("loss_weight") * unsqueeze(cast(mask, DType::Float32), 2));
  EXPECT_NEAR(loss.item(), g.get("loss").item(), 1e-4 * std::max(1.0, std::abs(g.get("loss").item())));
  autograd::backward(loss);
  int checked = 0;
  for (const auto& [name, p] : model->named_parameters()) {
    ASSERT_TRUE(g.contains("grad." + name)) << name;
    ASSERT_TRUE(p.grad().defined()) << name;
    // Gradients are sums of many terms of up to ~40, so float32 rounding scales with the
    // tensor's largest entry: tolerance 1e-5 x max(1, max |grad|).
    const Tensor want = g.get("grad." + name);
    const auto w = want.to_vector<double>();
    double scale = 1.0;
    for (double x : w) scale = std::max(scale, std::abs(x));
    expect_close(p.grad(), want, 1e-5 * scale, "grad." + name);
    ++checked;
  }
  int expected = 0;
  for (const auto& n : g.names()) expected += n.rfind("grad.", 0) == 0;
  EXPECT_EQ(checked, expected);
}

TEST_P(GoldenLlama, CachedDecodingMatchesTheFullForward) {
  const SafetensorsFile g = golden();
  auto model = models::load_hf_llama(folder());
  autograd::NoGradGuard no_grad;
  const Tensor ids = g.get("input_ids"), mask = g.get("attention_mask");
  const int64_t L = ids.size(1), prefix = 4;
  const Tensor full = model->forward(ids, mask);  // [B, L, V]
  // The first `prefix` positions at once, then one at a time; the cache grows past its capacity.
  models::KVCache cache = model->make_cache(ids.size(0), 2);
  std::vector<Tensor> pieces{model->forward(narrow(ids, 1, 0, prefix), narrow(mask, 1, 0, prefix), &cache)};
  for (int64_t i = prefix; i < L; ++i) pieces.push_back(model->forward(narrow(ids, 1, i, 1), narrow(mask, 1, i, 1), &cache));
  EXPECT_EQ(cache.length(), L);
  expect_close(real_positions(cat(pieces, 1), mask), real_positions(full, mask), 1e-5, "cached logits");
}

TEST_P(GoldenLlama, StepDecoderRowsFollowSelectRows) {
  const SafetensorsFile g = golden();
  auto model = models::load_hf_llama(folder());
  const auto prompts = prompts_of(g.get("input_ids"), g.get("attention_mask"));
  models::LlamaStepDecoder two(*model), swapped(*model);
  two.prefill(prompts);
  swapped.prefill({prompts[1], prompts[0]});
  // Row order (1, 1, 0) of `two` is row order (0, 0, 1) of `swapped`.
  two.select_rows({1, 1, 0});
  swapped.select_rows({0, 0, 1});
  ASSERT_EQ(two.rows(), 3);
  const Tensor a = two.step({5, 6, 7}), b = swapped.step({5, 6, 7});
  ASSERT_EQ(a.shape(), (Shape{3, model->config().vocab_size}));
  expect_close(a, b, 1e-5, "logits after select_rows");
  // Rows 0 and 1 share a past but got different tokens.
  EXPECT_NE(select(a, 0, 0).to_vector<float>(), select(a, 0, 1).to_vector<float>());
}

TEST_P(GoldenLlama, InputEmbeddingsStandInForIds) {
  const SafetensorsFile g = golden();
  auto model = models::load_hf_llama(folder());
  const Tensor ids = g.get("input_ids"), mask = g.get("attention_mask");
  models::LlamaStepDecoder by_ids(*model), by_embeds(*model);
  const Tensor a = by_ids.prefill(prompts_of(ids, mask));
  Tensor embeds;
  {
    autograd::NoGradGuard no_grad;
    embeds = model->embed(ids);
  }
  const Tensor b = by_embeds.prefill_embeds(embeds, mask);
  expect_close(b, a, 1e-5, "last-position logits");
  expect_close(by_embeds.step({3, 4}), by_ids.step({3, 4}), 1e-5, "next step");
}

TEST_P(GoldenLlama, CacheRefusesToRecordGradients) {
  const SafetensorsFile g = golden();
  auto model = models::load_hf_llama(folder());
  models::KVCache cache = model->make_cache(2);
  EXPECT_THROW(model->forward(g.get("input_ids"), g.get("attention_mask"), &cache), std::logic_error);
}

// Runs generate() as the golden script ran transformers' generate() (settings from the file's
// metadata; EOS 2) and compares with its output, whose finished rows are padded with id 0.
void expect_generate_matches(const Llama& model, const SafetensorsFile& g, const std::string& which) {
  const nlohmann::json settings = nlohmann::json::parse(g.metadata().at(which));
  generation::GenerationConfig config;
  config.max_new_tokens = settings.at("max_new_tokens").get<int64_t>();
  config.min_new_tokens = settings.value("min_new_tokens", int64_t{0});
  config.num_beams = settings.at("num_beams").get<int64_t>();
  config.repetition_penalty = settings.value("repetition_penalty", 1.0f);
  config.length_penalty = settings.value("length_penalty", 1.0f);
  config.eos_id = 2;
  const Tensor ids = g.get("input_ids"), expected = g.get(which + "_ids");
  const auto prompts = prompts_of(ids, g.get("attention_mask"));
  models::LlamaStepDecoder decoder(model);
  const auto got = generation::generate(decoder, decoder.prefill(prompts), prompts, config);
  const auto want = expected.to_vector<int64_t>();
  const int64_t L = ids.size(1), width = expected.size(1);
  ASSERT_EQ(got.size(), prompts.size());
  for (size_t r = 0; r < got.size(); ++r) {
    std::vector<int64_t> padded = got[r].tokens;
    padded.resize(width - L, 0);
    EXPECT_EQ(padded, std::vector<int64_t>(want.begin() + r * width + L, want.begin() + (r + 1) * width))
        << which << " row " << r;
  }
}

TEST_P(GoldenLlama, GreedyGenerationMatchesTransformers) {
  auto model = models::load_hf_llama(folder());
  expect_generate_matches(*model, golden(), "greedy");
}

TEST_P(GoldenLlama, BeamSearchMatchesTransformers) {
  auto model = models::load_hf_llama(folder());
  expect_generate_matches(*model, golden(), "beam");
}

INSTANTIATE_TEST_SUITE_P(Models, GoldenLlama, ::testing::Values("tiny_llama", "tiny_qwen2"));

TEST(LlamaConfig, QwenAndLlamaFieldsAreRead) {
  const auto q = models::parse_hf_llama_config(kFixtures + "/tiny_qwen2/config.json");
  EXPECT_EQ(q.vocab_size, 706);
  EXPECT_TRUE(q.qkv_bias);
  EXPECT_FALSE(q.o_bias);
  EXPECT_TRUE(q.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(q.rope_theta, 1e6);
  EXPECT_DOUBLE_EQ(q.rms_norm_eps, 1e-6);
  EXPECT_EQ(q.num_kv_heads, 2);
  EXPECT_FALSE(q.bos_starts_prompts);
  const auto l = models::parse_hf_llama_config(kFixtures + "/tiny_llama/config.json");
  EXPECT_FALSE(l.qkv_bias);
  EXPECT_FALSE(l.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(l.rope_theta, 1e4);
  EXPECT_EQ(l.head_dim, 8);
  EXPECT_TRUE(l.bos_starts_prompts);
}

TEST(LlamaConfig, BadConfigsAreNamed) {
  TempDir dir;
  const nlohmann::json base = nlohmann::json::parse(std::ifstream(kFixtures + "/tiny_llama/config.json"));
  auto expect_error = [&](const nlohmann::json& j, const std::string& fragment) {
    std::ofstream(dir / "config.json") << j.dump();
    try {
      models::parse_hf_llama_config(dir / "config.json");
      ADD_FAILURE() << "no error for " << fragment;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(dir / "config.json"), std::string::npos) << e.what();
    }
  };
  nlohmann::json j = base;
  j["architectures"] = {"MistralForCausalLM"};
  expect_error(j, "MistralForCausalLM");
  j = base;
  j.erase("hidden_size");
  expect_error(j, "hidden_size");
  j = base;
  j["num_key_value_heads"] = 3;
  expect_error(j, "num_key_value_heads 3");
  j = base;
  j["rope_parameters"] = {{"rope_type", "llama3"}, {"rope_theta", 5e5}};
  expect_error(j, "llama3");
  j = base;
  j["vocab_size"] = "96";
  expect_error(j, "vocab_size");
}

// --- loader errors ---------------------------------------------------------------------------

void copy_config(const TempDir& dir, const std::string& model) {
  fs::copy_file(kFixtures + "/" + model + "/config.json", dir / "config.json");
}

std::map<std::string, Tensor> state_of(const std::string& model) {
  const auto f = SafetensorsFile::open(kFixtures + "/" + model + "/model.safetensors");
  std::map<std::string, Tensor> s;
  for (const auto& n : f.names()) s.emplace(n, f.get(n));
  return s;
}

void expect_load_error(const std::string& path, const std::vector<std::string>& fragments) {
  try {
    models::load_llama(path);
    ADD_FAILURE() << "loading " << path << " did not throw";
  } catch (const std::runtime_error& e) {
    for (const auto& f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what() << "\nlacks: " << f;
  }
}

TEST(LlamaLoader, MissingTensorIsNamed) {
  TempDir dir;
  copy_config(dir, "tiny_llama");
  auto state = state_of("tiny_llama");
  state.erase("model.layers.1.mlp.up_proj.weight");
  save_safetensors(dir / "model.safetensors", state);
  expect_load_error(dir.path.string(), {dir.path.string(), "model.layers.1.mlp.up_proj.weight", "missing"});
}

TEST(LlamaLoader, MisShapedTensorIsNamed) {
  TempDir dir;
  copy_config(dir, "tiny_llama");
  auto state = state_of("tiny_llama");
  state["model.layers.0.self_attn.k_proj.weight"] = zeros({32, 32});
  save_safetensors(dir / "model.safetensors", state);
  expect_load_error(dir.path.string(), {dir / "model.safetensors", "model.layers.0.self_attn.k_proj.weight", "[32, 32]", "[16, 32]"});
}

TEST(LlamaLoader, UnexpectedTensorIsNamed) {
  TempDir dir;
  copy_config(dir, "tiny_llama");
  auto state = state_of("tiny_llama");
  state["model.layers.0.self_attn.q_proj.bias"] = zeros({32});
  save_safetensors(dir / "model.safetensors", state);
  expect_load_error(dir.path.string(), {"unexpected", "model.layers.0.self_attn.q_proj.bias"});
}

TEST(LlamaLoader, TruncatedSafetensorsIsNamed) {
  TempDir dir;
  copy_config(dir, "tiny_llama");
  fs::copy_file(kFixtures + "/tiny_llama/model.safetensors", dir / "model.safetensors");
  fs::resize_file(dir / "model.safetensors", fs::file_size(dir / "model.safetensors") - 100);
  // The last tensor in the data section is the one cut short.
  expect_load_error(dir.path.string(), {dir / "model.safetensors", "tensor '", "outside the data section"});
}

TEST(LlamaLoader, MissingShardIsNamed) {
  TempDir dir;
  for (const auto& e : fs::directory_iterator(kFixtures + "/tiny_qwen2")) fs::copy_file(e.path(), dir.path / e.path().filename());
  fs::remove(dir / "model-00002-of-00003.safetensors");
  expect_load_error(dir.path.string(), {"model-00002-of-00003.safetensors", "missing"});
}

TEST(LlamaLoader, MissingWeightsFileIsNamed) {
  TempDir dir;
  copy_config(dir, "tiny_llama");
  expect_load_error(dir.path.string(), {dir.path.string(), "model.safetensors"});
}

TEST(LlamaLoader, Bfloat16WeightsAreViewsOfTheMappedFile) {
  TempDir dir;
  copy_config(dir, "tiny_llama");
  std::map<std::string, Tensor> bf16;
  for (const auto& [n, t] : state_of("tiny_llama")) bf16.emplace(n, convert(t, DType::BFloat16));
  save_safetensors(dir / "model.safetensors", bf16);
  auto model = models::load_hf_llama(dir.path.string());
  const auto file = SafetensorsFile::open(dir / "model.safetensors");
  const auto params = model->named_parameters();
  const std::map<std::string, Tensor> by_name(params.begin(), params.end());
  // Two parameters lie as far apart in memory as in the file: both view one mapping.
  const std::string a = "model.embed_tokens.weight", b = "model.layers.1.mlp.down_proj.weight";
  ASSERT_EQ(by_name.at(a).dtype(), DType::BFloat16);
  EXPECT_EQ(static_cast<const char*>(by_name.at(b).raw_data()) - static_cast<const char*>(by_name.at(a).raw_data()),
            static_cast<ptrdiff_t>(file.entry(b).begin) - static_cast<ptrdiff_t>(file.entry(a).begin));
  // And they compute: bfloat16 logits near the float32 ones.
  const SafetensorsFile g = SafetensorsFile::open(kFixtures + "/tiny_llama_golden.safetensors");
  autograd::NoGradGuard no_grad;
  const Tensor mask = g.get("attention_mask");
  const Tensor logits = convert(model->forward(g.get("input_ids"), mask), DType::Float32);
  expect_close(real_positions(logits, mask), real_positions(g.get("logits"), mask), 0.1, "bf16 logits");
}

// --- llama2.c ----------------------------------------------------------------------------------

const std::string kStories = kFixtures + "/stories260K.bin";
const char* kStoriesGreedy =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a "
    "big, red ball. She wanted to play with it, but it was too high.\nLily's mom said, \"Lily, let's go to the park.\" "
    "Lily was sad and didn't know what to do. She said, \"I want to play with your ball, but I can't find it.\"\nLily "
    "was sad and didn't know what to do. She said, \"I'm sorry, Lily. I didn't know what to do.\"\nLily didn't want to "
    "help her mom, so she";

TEST(Llama2c, Stories260KConfigIsReadFromTheLegacyHeader) {
  auto model = models::load_llama2c(kStories);
  const auto& c = model->config();
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 172);
  EXPECT_EQ(c.num_layers, 5);
  EXPECT_EQ(c.num_heads, 8);
  EXPECT_EQ(c.num_kv_heads, 4);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.rope_pairing, RotaryPairing::Interleaved);
}

TEST(Llama2c, Stories260KGreedyTextMatchesLlama2c) {
  auto model = models::load_llama2c(kStories);
  const data::Llama2cTokenizer tok(std::string(EMRRG_FIXTURES_DIR) + "/tokenizers/tok512.bin");
  models::LlamaStepDecoder decoder(*model);
  // llama2.c's 200 steps: BOS and 199 generated tokens are fed, and each step's token printed;
  // it stops at BOS, never at EOS, and none comes up here.
  generation::GenerationConfig config;
  config.max_new_tokens = 200;
  const std::vector<std::vector<int64_t>> prompt{{tok.bos_id()}};
  const auto ids = generation::generate(decoder, decoder.prefill(prompt), prompt, config)[0].tokens;
  EXPECT_EQ(tok.decode(std::vector<int>(ids.begin(), ids.end())), kStoriesGreedy);
}

// Writes `model` as llama2.c's export.py does: version 0 (legacy header, RoPE tables, a negative
// vocab_size for an own classifier) or 1 ("ak42"); `classifier` [vocab, dim] or undefined (shared).
void write_llama2c(const Llama& model, const std::string& path, int version, const Tensor& classifier = Tensor()) {
  const auto& c = model.config();
  const bool shared = !classifier.defined();
  std::ofstream out(path, std::ios::binary);
  auto put_raw = [&](const void* p, size_t n) { out.write(static_cast<const char*>(p), static_cast<std::streamsize>(n)); };
  const int32_t p[7] = {int32_t(c.hidden_size), int32_t(c.intermediate_size), int32_t(c.num_layers), int32_t(c.num_heads),
                        int32_t(c.num_kv_heads), int32_t(shared || version == 1 ? c.vocab_size : -c.vocab_size),
                        int32_t(c.max_position_embeddings)};
  if (version == 1) {
    const uint32_t magic = 0x616b3432;
    const int32_t v = 1;
    const uint8_t shared_byte = shared;
    put_raw(&magic, 4);
    put_raw(&v, 4);
    put_raw(p, sizeof p);
    put_raw(&shared_byte, 1);
    put_raw(std::string(256 - 37, '\0').data(), 256 - 37);
  } else {
    put_raw(p, sizeof p);
  }
  const auto state = model.state_dict();
  auto put = [&](const Tensor& t) {
    const auto v = t.to_vector<float>();
    put_raw(v.data(), v.size() * 4);
  };
  auto layers = [&](const std::string& suffix) {
    for (int64_t l = 0; l < c.num_layers; ++l) put(state.at("model.layers." + std::to_string(l) + "." + suffix));
  };
  if (version == 1) {
    layers("input_layernorm.weight");
    layers("post_attention_layernorm.weight");
    put(state.at("model.norm.weight"));
    put(state.at("model.embed_tokens.weight"));
  } else {
    put(state.at("model.embed_tokens.weight"));
    layers("input_layernorm.weight");
  }
  for (const char* s : {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight"})
    layers(s);
  if (version == 0) layers("post_attention_layernorm.weight");
  for (const char* s : {"mlp.gate_proj.weight", "mlp.down_proj.weight", "mlp.up_proj.weight"}) layers(s);
  if (version == 0) {
    put(state.at("model.norm.weight"));
    put(zeros({c.max_position_embeddings * c.head_dim}));  // freq_cis_real and _imag, unused
  }
  if (!shared) put(classifier);
}

void expect_same_parameters(const Llama& a, const Llama& b) {
  const auto sa = a.state_dict(), sb = b.state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (const auto& [name, t] : sa) expect_close(sb.at(name), t, 0.0, name);
}

TEST(Llama2c, Version1HeaderLoadsTheSameModel) {
  TempDir dir;
  auto legacy = models::load_llama2c(kStories);
  write_llama2c(*legacy, dir / "v1.bin", 1);
  expect_same_parameters(*legacy, *models::load_llama2c(dir / "v1.bin"));
  // Written back in the legacy format, the file is byte for byte the original.
  write_llama2c(*legacy, dir / "v0.bin", 0);
  std::ifstream x(kStories, std::ios::binary), y(dir / "v0.bin", std::ios::binary);
  const std::string original((std::istreambuf_iterator<char>(x)), {}), rewritten((std::istreambuf_iterator<char>(y)), {});
  EXPECT_EQ(original.size(), rewritten.size());
  EXPECT_EQ(original.compare(0, original.size() - 512 * 8 * 4, rewritten, 0, original.size() - 512 * 8 * 4), 0)
      << "the weights before the RoPE tables differ";
}

TEST(Llama2c, UnsharedClassifierIsLoadedInBothFormats) {
  TempDir dir;
  auto legacy = models::load_llama2c(kStories);
  Generator gen(7);
  const Tensor classifier = randn({512, 64}, 0.0, 1.0, gen);
  for (int version : {0, 1}) {
    const std::string path = dir / ("v" + std::to_string(version) + ".bin");
    write_llama2c(*legacy, path, version, classifier);
    auto model = models::load_llama2c(path);
    EXPECT_FALSE(model->config().tie_word_embeddings) << version;
    const auto state = model->state_dict();
    ASSERT_TRUE(state.count("lm_head.weight")) << version;
    expect_close(state.at("lm_head.weight"), classifier, 0.0, "lm_head v" + std::to_string(version));
    expect_close(state.at("model.embed_tokens.weight"), legacy->state_dict().at("model.embed_tokens.weight"), 0.0,
                 "embedding v" + std::to_string(version));
  }
}

TEST(Llama2c, TruncatedCheckpointNamesTheTensor) {
  TempDir dir;
  fs::copy_file(kStories, dir / "cut.bin");
  // 28-byte header, embedding 512 x 64, then the five attention norms: cut inside q_proj of layer 0.
  fs::resize_file(dir / "cut.bin", 28 + (512 * 64 + 5 * 64 + 100) * 4);
  expect_load_error(dir / "cut.bin", {dir / "cut.bin", "truncated", "model.layers.0.self_attn.q_proj.weight"});
}

TEST(Llama2c, TrailingBytesAreAnError) {
  TempDir dir;
  fs::copy_file(kStories, dir / "long.bin");
  fs::resize_file(dir / "long.bin", fs::file_size(kStories) + 8);
  expect_load_error(dir / "long.bin", {dir / "long.bin", "8 bytes after the last tensor"});
}

TEST(Llama2c, BadHeaderFieldIsNamed) {
  TempDir dir;
  fs::copy_file(kStories, dir / "bad.bin");
  {
    std::fstream f(dir / "bad.bin", std::ios::in | std::ios::out | std::ios::binary);
    const int32_t zero = 0;
    f.seekp(3 * 4);
    f.write(reinterpret_cast<const char*>(&zero), 4);
  }
  expect_load_error(dir / "bad.bin", {dir / "bad.bin", "n_heads", "0"});
}

}  // namespace
}  // namespace emrrg

// --- emrrg generate's library path -------------------------------------------------------------

namespace emrrg {
namespace {

TEST(TextGeneration, Stories260KGreedyTextStreamsAsLlama2cPrintsIt) {
  train::TextGenerationOptions o;
  o.model_path = kStories;
  o.tokenizer_path = std::string(EMRRG_FIXTURES_DIR) + "/tokenizers/tok512.bin";
  o.generation.max_new_tokens = 200;
  o.generation.temperature = 0.0f;
  std::ostringstream out, log;
  const auto r = train::run_text_generation(o, out, log);
  EXPECT_EQ(out.str(), std::string(kStoriesGreedy) + "\n");
  EXPECT_EQ(r.text, kStoriesGreedy);
  EXPECT_EQ(r.prompt_ids, std::vector<int64_t>{1});
  EXPECT_NE(log.str().find("tokens/s"), std::string::npos) << log.str();
}

TEST(TextGeneration, PromptIdsAndPrintIdsOnAHuggingFaceFolder) {
  const SafetensorsFile g = SafetensorsFile::open(kFixtures + "/tiny_llama_golden.safetensors");
  const auto prompts = prompts_of(g.get("input_ids"), g.get("attention_mask"));
  const auto greedy = g.get("greedy_ids").to_vector<int64_t>();
  const int64_t width = g.get("greedy_ids").size(1), L = g.get("input_ids").size(1);
  train::TextGenerationOptions o;
  o.model_path = kFixtures + "/tiny_llama";
  o.prompt_ids = prompts[1];
  o.print_ids = true;
  o.generation.max_new_tokens = width - L;
  std::ostringstream out, log;
  const auto r = train::run_text_generation(o, out, log);
  // The golden row is padded with 0 after EOS (2); the model's EOS comes from config.json.
  std::vector<int64_t> want(greedy.begin() + width + L, greedy.begin() + 2 * width);
  const auto eos = std::find(want.begin(), want.end(), 2);
  if (eos != want.end()) want.erase(eos + 1, want.end());
  EXPECT_EQ(r.new_ids, want);
  std::ostringstream expected;
  for (size_t i = 0; i < want.size(); ++i) expected << (i ? " " : "") << want[i];
  EXPECT_EQ(out.str(), expected.str() + "\n");
}

TEST(TextGeneration, QwenFolderTextPromptMatchesTransformers) {
  // tiny_qwen2 carries a byte-level BPE tokenizer.json; Qwen prompts get no BOS.
  const SafetensorsFile g = SafetensorsFile::open(kFixtures + "/tiny_qwen2_golden.safetensors");
  const Tensor prompt_ids = g.get("text_prompt_ids"), all_ids = g.get("text_greedy_ids");
  train::TextGenerationOptions o;
  o.model_path = kFixtures + "/tiny_qwen2";
  o.prompt = g.metadata().at("text_prompt");
  o.generation.max_new_tokens = all_ids.size(1) - prompt_ids.size(1);
  std::ostringstream out, log;
  const auto r = train::run_text_generation(o, out, log);
  EXPECT_EQ(r.prompt_ids, prompt_ids.to_vector<int64_t>());
  const auto all = all_ids.to_vector<int64_t>();
  EXPECT_EQ(r.new_ids, std::vector<int64_t>(all.begin() + prompt_ids.size(1), all.end()));
  EXPECT_EQ(r.text, g.metadata().at("text_greedy"));
  EXPECT_EQ(out.str(), r.text + "\n");
}

TEST(TextGeneration, TextPromptWithoutTokenizerIsAnError) {
  train::TextGenerationOptions o;
  o.model_path = kFixtures + "/tiny_llama";
  o.prompt = "hello";
  std::ostringstream out, log;
  EXPECT_THROW(train::run_text_generation(o, out, log), std::runtime_error);
}

}  // namespace
}  // namespace emrrg
