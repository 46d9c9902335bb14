// The search algorithms (models/generation/) against Hugging Face generate() on a toy decoder
// whose logits are table[last token] + bias[position] (tests/golden/make_generation_golden.py),
// prompts given as ids and as embeddings, plus the properties of sampling and the logits
// processors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "models/generation/logits_processors.h"
#include "models/generation/search.h"

namespace emrrg::generation {
namespace {

using Rows = std::vector<std::vector<int64_t>>;

// The toy decoder: one position counter per row, logits(token at position i) = table[token] + bias[i].
class TableDecoder final : public StepDecoder {
 public:
  TableDecoder(std::vector<float> table, std::vector<float> bias, int64_t vocab)
      : table_(std::move(table)), bias_(std::move(bias)), vocab_(vocab) {}

  int64_t vocab_size() const override { return vocab_; }

  // The prefill: rows = prompts, returns each prompt's last-position logits [rows, vocab].
  Tensor start(const Rows& prompts) {
    positions_.clear();
    std::vector<int64_t> last;
    for (const auto& p : prompts) {
      positions_.push_back(static_cast<int64_t>(p.size()) - 1);
      last.push_back(p.back());
    }
    return logits_for(last);
  }

  Tensor step(const std::vector<int64_t>& tokens) override {
    EXPECT_EQ(tokens.size(), positions_.size());
    for (int64_t& p : positions_) ++p;
    ++steps;
    return logits_for(tokens);
  }

  void select_rows(const std::vector<int64_t>& rows) override {
    std::vector<int64_t> selected;
    for (int64_t r : rows) selected.push_back(positions_.at(r));
    positions_ = std::move(selected);
  }

  // logits of one row: `token` at `position`
  std::vector<float> logits_at(int64_t token, int64_t position) const {
    std::vector<float> out(vocab_);
    for (int64_t v = 0; v < vocab_; ++v) out[v] = table_.at(token * vocab_ + v) + bias_.at(position * vocab_ + v);
    return out;
  }

  int64_t rows() const { return static_cast<int64_t>(positions_.size()); }
  int steps = 0;

 private:
  Tensor logits_for(const std::vector<int64_t>& tokens) const {
    std::vector<float> out;
    for (size_t r = 0; r < tokens.size(); ++r) {
      const std::vector<float> row = logits_at(tokens[r], positions_[r]);
      out.insert(out.end(), row.begin(), row.end());
    }
    return from_vector(out, {static_cast<int64_t>(tokens.size()), vocab_});
  }

  std::vector<float> table_, bias_;
  int64_t vocab_;
  std::vector<int64_t> positions_;
};

nlohmann::json load_fixture() {
  const std::string path = std::string(EMRRG_FIXTURES_DIR) + "/generation/toy_generate.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

TableDecoder toy_decoder(const nlohmann::json& fixture) {
  return TableDecoder(fixture["table"].get<std::vector<float>>(), fixture["bias"].get<std::vector<float>>(),
                      fixture["vocab"].get<int64_t>());
}

GenerationConfig config_of(const nlohmann::json& c) {
  GenerationConfig config;
  config.max_new_tokens = c["max_new_tokens"];
  config.min_new_tokens = c["min_new_tokens"];
  config.eos_id = c["eos_id"];
  config.num_beams = c["num_beams"];
  config.repetition_penalty = c["repetition_penalty"];
  config.length_penalty = c["length_penalty"];
  return config;
}

TEST(Generation, MatchesHuggingFaceGenerateTokenForToken) {
  const nlohmann::json fixture = load_fixture();
  ASSERT_GE(fixture["cases"].size(), 51u);
  for (const auto& c : fixture["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const Rows prompts = c["prompts"].get<Rows>();
    const GenerationConfig config = config_of(c["config"]);
    const Rows expected = c["sequences"].get<Rows>();
    const std::vector<float> scores = c["scores"].get<std::vector<float>>();
    TableDecoder decoder = toy_decoder(fixture);
    const Tensor logits = decoder.start(prompts);
    // From embeddings (EMRRG's case) the search is given no prompt ids.
    const bool from_embeddings = c["from_embeddings"];
    const std::vector<GeneratedSequence> got = generate(decoder, logits, from_embeddings ? Rows{} : prompts, config);
    ASSERT_EQ(got.size(), expected.size());
    for (size_t r = 0; r < got.size(); ++r) {
      EXPECT_EQ(got[r].tokens, expected[r]) << "row " << r;
      // HF's sequences_scores: float32, same operations; 1e-5 relative covers exp/log rounding.
      if (config.num_beams > 1) {
        EXPECT_NEAR(got[r].score, scores[r], 1e-5 * std::max(1.0f, std::fabs(scores[r]))) << "row " << r;
      }
    }
  }
}

TEST(Generation, GreedyStreamsEveryTokenAndDropsFinishedRows) {
  const nlohmann::json fixture = load_fixture();
  TableDecoder decoder = toy_decoder(fixture);
  const Rows prompts = {{1, 5, 2}, {8}};
  GenerationConfig config;
  config.max_new_tokens = 10;
  config.eos_id = 3;
  config.repetition_penalty = 1.5f;
  std::map<int64_t, std::vector<int64_t>> streamed;
  const auto got = generate(decoder, decoder.start(prompts), prompts, config,
                            [&](int64_t row, int64_t token) { streamed[row].push_back(token); });
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(streamed[0], got[0].tokens);
  EXPECT_EQ(streamed[1], got[1].tokens);
  // Row 0 ends with EOS after 8 tokens (fixture case greedy_batch); row 1 runs alone after that.
  EXPECT_EQ(got[0].tokens.size(), 8u);
  EXPECT_EQ(decoder.rows(), 1);
  EXPECT_EQ(decoder.steps, 9);
}

TEST(Generation, RepetitionPenaltyIgnoresAbsentPromptIds) {
  // Starting from embeddings there are no prompt ids: only generated tokens are penalised.
  std::vector<float> scores = {2.0f, -1.0f, 4.0f, -3.0f};
  apply_repetition_penalty(scores, {}, {2, 3, 2}, 2.0f);
  EXPECT_EQ(scores, (std::vector<float>{2.0f, -1.0f, 2.0f, -6.0f}));
  scores = {2.0f, -1.0f, 4.0f, -3.0f};
  apply_repetition_penalty(scores, {0, 1}, {1}, 4.0f);  // an id seen twice is penalised once
  EXPECT_EQ(scores, (std::vector<float>{0.5f, -4.0f, 4.0f, -3.0f}));
  EXPECT_THROW(apply_repetition_penalty(scores, {4}, {}, 2.0f), std::out_of_range);
}

TEST(Generation, MinNewTokensMasksEosUntilReached) {
  std::vector<float> scores = {0.0f, 1.0f, 2.0f};
  apply_min_new_tokens(scores, 2, 3, 1);
  EXPECT_EQ(scores[1], -std::numeric_limits<float>::infinity());
  scores = {0.0f, 1.0f, 2.0f};
  apply_min_new_tokens(scores, 3, 3, 1);
  EXPECT_EQ(scores[1], 1.0f);
}

TEST(Generation, TopPKeepsTheSmallestSetReachingTheMass) {
  // probabilities 0.5, 0.3, 0.15, 0.05 (logits are their logs, shuffled)
  std::vector<float> scores = {std::log(0.15f), std::log(0.5f), std::log(0.05f), std::log(0.3f)};
  apply_sampling_warpers(scores, 1.0f, 0, 0.75f);
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(scores[0], -inf);
  EXPECT_EQ(scores[2], -inf);
  EXPECT_GT(scores[1], -inf);
  EXPECT_GT(scores[3], -inf);
  // A tiny top_p still keeps the most probable token.
  scores = {0.0f, 3.0f, 1.0f};
  apply_sampling_warpers(scores, 1.0f, 0, 1e-6f);
  EXPECT_EQ(scores, (std::vector<float>{-inf, 3.0f, -inf}));
}

TEST(Generation, TopKKeepsTheKLargestAndTheirTies) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> scores = {1.0f, 4.0f, 2.0f, 4.0f, 3.0f};
  apply_sampling_warpers(scores, 2.0f, 3, 1.0f);  // temperature first: scores halve
  EXPECT_EQ(scores, (std::vector<float>{-inf, 2.0f, -inf, 2.0f, 1.5f}));
  scores = {1.0f, 2.0f, 2.0f, 0.0f};
  apply_sampling_warpers(scores, 1.0f, 1, 1.0f);  // ties with the k-th stay, as in HF
  EXPECT_EQ(scores, (std::vector<float>{-inf, 2.0f, 2.0f, -inf}));
}

GenerationConfig sampling_config(uint64_t seed) {
  GenerationConfig config;
  config.do_sample = true;
  config.temperature = 0.8f;
  config.top_p = 0.9f;
  config.seed = seed;
  config.max_new_tokens = 24;
  return config;
}

std::vector<GeneratedSequence> sample_rows(const nlohmann::json& fixture, const Rows& prompts, uint64_t seed) {
  TableDecoder decoder = toy_decoder(fixture);
  return generate(decoder, decoder.start(prompts), prompts, sampling_config(seed));
}

TEST(Generation, SamplingIsReproducibleFromItsSeed) {
  const nlohmann::json fixture = load_fixture();
  const Rows prompts = {{1, 5, 2}, {8}, {1, 5, 2}};
  const auto a = sample_rows(fixture, prompts, 42);
  const auto b = sample_rows(fixture, prompts, 42);
  const auto c = sample_rows(fixture, prompts, 43);
  for (size_t r = 0; r < prompts.size(); ++r) EXPECT_EQ(a[r].tokens, b[r].tokens);
  EXPECT_NE(a[0].tokens, c[0].tokens);
  // Each row draws from its own stream (Philox index = row): equal prompts differ, and what
  // the other rows do (here: finish at once on EOS) does not change a row's draws.
  EXPECT_NE(a[0].tokens, a[2].tokens);
  TableDecoder decoder = toy_decoder(fixture);
  GenerationConfig config = sampling_config(42);
  config.eos_id = a[0].tokens[0];
  const auto d = generate(decoder, decoder.start(prompts), prompts, config);
  EXPECT_EQ(d[0].tokens.size(), 1u);
  const auto first_eos = std::find(a[1].tokens.begin(), a[1].tokens.end(), config.eos_id);
  const std::vector<int64_t> row1_until_eos(a[1].tokens.begin(),
                                            first_eos == a[1].tokens.end() ? first_eos : first_eos + 1);
  EXPECT_EQ(d[1].tokens, row1_until_eos);
}

// softmax(logits / temperature), and the top-p nucleus of it computed the plain way.
std::vector<double> probabilities(const std::vector<float>& logits, double temperature) {
  double max = -1e300, sum = 0;
  for (float l : logits) max = std::max(max, l / temperature);
  std::vector<double> p;
  for (float l : logits) sum += p.emplace_back(std::exp(l / temperature - max));
  for (double& v : p) v /= sum;
  return p;
}

std::vector<bool> nucleus(const std::vector<double>& p, double top_p) {
  std::vector<size_t> order(p.size());
  for (size_t i = 0; i < p.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] > p[b]; });
  std::vector<bool> in(p.size(), false);
  double mass = 0;
  for (size_t i : order) {
    in[i] = true;
    mass += p[i];
    if (mass >= top_p) break;
  }
  return in;
}

TEST(Generation, SampledTokensStayInTheNucleus) {
  const nlohmann::json fixture = load_fixture();
  const TableDecoder reference = toy_decoder(fixture);
  const Rows prompts = {{1, 5, 2}, {8}, {4, 4}, {13}};
  const GenerationConfig config = sampling_config(7);
  for (uint64_t seed = 0; seed < 8; ++seed)
    for (size_t r = 0; r < prompts.size(); ++r) {
      const auto got = sample_rows(fixture, prompts, seed);
      int64_t last = prompts[r].back(), position = static_cast<int64_t>(prompts[r].size()) - 1;
      for (int64_t token : got[r].tokens) {
        const auto in = nucleus(probabilities(reference.logits_at(last, position), config.temperature), config.top_p);
        EXPECT_TRUE(in.at(token)) << "seed " << seed << " row " << r << " position " << position;
        last = token;
        ++position;
      }
    }
}

TEST(Generation, SampledFrequenciesFollowTheTruncatedDistribution) {
  // 4000 rows of one prompt, one token each: the draws are independent (one Philox stream
  // index per row), so the counts are multinomial with the nucleus' renormalised probabilities.
  const nlohmann::json fixture = load_fixture();
  const int64_t rows = 4000;
  const Rows prompts(rows, std::vector<int64_t>{2});
  TableDecoder decoder = toy_decoder(fixture);
  GenerationConfig config = sampling_config(11);
  config.max_new_tokens = 1;
  config.top_p = 0.8f;
  const auto got = generate(decoder, decoder.start(prompts), prompts, config);
  const std::vector<double> p = probabilities(decoder.logits_at(2, 0), config.temperature);
  const std::vector<bool> in = nucleus(p, config.top_p);
  double kept_mass = 0;
  for (size_t v = 0; v < p.size(); ++v) kept_mass += in[v] ? p[v] : 0.0;
  std::vector<int64_t> counts(p.size(), 0);
  for (const auto& g : got) ++counts.at(g.tokens.at(0));
  for (size_t v = 0; v < p.size(); ++v) {
    if (!in[v]) {
      EXPECT_EQ(counts[v], 0) << "token " << v << " outside the nucleus";
      continue;
    }
    const double q = p[v] / kept_mass, expected = q * rows, sigma = std::sqrt(rows * q * (1 - q));
    EXPECT_NEAR(counts[v], expected, 4 * sigma + 1) << "token " << v;
  }
}

TEST(Generation, RejectsBadSettingsAndLogits) {
  const nlohmann::json fixture = load_fixture();
  TableDecoder decoder = toy_decoder(fixture);
  const Rows prompts = {{1}};
  const Tensor logits = decoder.start(prompts);
  GenerationConfig config;
  config.top_p = 0.0f;
  EXPECT_THROW(generate(decoder, logits, prompts, config), std::invalid_argument);
  config = {};
  config.eos_id = 16;
  EXPECT_THROW(generate(decoder, logits, prompts, config), std::invalid_argument);
  config = {};
  EXPECT_THROW(generate(decoder, logits, {{1}, {2}}, config), std::invalid_argument);
  EXPECT_THROW(generate(decoder, zeros({1, 15}), prompts, config), std::invalid_argument);
  const Tensor nan_logits = full({1, 16}, std::numeric_limits<double>::quiet_NaN());
  EXPECT_THROW(generate(decoder, nan_logits, prompts, config), std::runtime_error);
}

}  // namespace
}  // namespace emrrg::generation
