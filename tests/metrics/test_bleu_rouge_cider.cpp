// BLEU, ROUGE-L and CIDEr-D against the pycocoevalcap numbers in NOTES.md section 10.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "tests/metrics/fixture_corpus.h"
#include "tests/metrics/public_vectors.h"
#include "train/metrics/bleu.h"
#include "train/metrics/cider.h"
#include "train/metrics/rouge.h"

namespace emrrg::metrics {
namespace {

using testing::kReportHyps;
using testing::kReportRefs;
using testing::one_ref_each;

constexpr double kTol = 1e-9;

TEST(PublicVectors, ReportsBleu) {
  const auto s = compute_bleu(kReportHyps, one_ref_each(kReportRefs));
  EXPECT_NEAR(s.corpus[0], 0.6265714470005479, kTol);
  EXPECT_NEAR(s.corpus[1], 0.6037793540061829, kTol);
  EXPECT_NEAR(s.corpus[2], 0.5950824633022084, kTol);
  EXPECT_NEAR(s.corpus[3], 0.5816189357486082, kTol);
  ASSERT_EQ(s.per_image.size(), 4u);
  EXPECT_NEAR(s.per_image[3][3], 1.0, 1e-8);  // identical report
}

TEST(PublicVectors, ReportsRougeL) {
  const auto s = compute_rouge_l(kReportHyps, one_ref_each(kReportRefs));
  EXPECT_NEAR(s.corpus, 0.6364653453449166, kTol);
  EXPECT_NEAR(s.per_image[3], 1.0, kTol);
}

TEST(PublicVectors, ReportsCider) {
  const auto s = compute_cider(kReportHyps, one_ref_each(kReportRefs));
  EXPECT_NEAR(s.corpus, 5.077725327329148, kTol);
}

const std::vector<std::string> kBoyHyps = {"i am a boy", "she is a girl"};
const std::vector<std::string> kBoyRefs = {"am i a boy", "is she a girl"};

TEST(PublicVectors, SwappedWordsBleu) {
  const auto s = compute_bleu(kBoyHyps, one_ref_each(kBoyRefs));
  EXPECT_NEAR(s.corpus[0], 0.9999999997500004, kTol);
  EXPECT_NEAR(s.corpus[1], 0.5773502690332603, kTol);
  // Small values: compare relative to their size as well.
  EXPECT_NEAR(s.corpus[2], 4.3679023223468616e-06, 1e-15);
  EXPECT_NEAR(s.corpus[3], 1.4287202142987477e-08, 1e-17);
}

TEST(PublicVectors, SwappedWordsCiderRouge) {
  EXPECT_NEAR(compute_cider(kBoyHyps, one_ref_each(kBoyRefs)).corpus, 3.333333333333333, kTol);
  EXPECT_NEAR(compute_rouge_l(kBoyHyps, one_ref_each(kBoyRefs)).corpus, 0.75, kTol);
}

TEST(EdgeCases, EmptyHypothesis) {
  const std::vector<std::string> hyps = {"", "the lungs are clear ."};
  const auto refs = one_ref_each({"no acute process .", "the lungs are clear ."});
  const auto b = compute_bleu(hyps, refs);
  // guess 0 -> (0 + 1e-15) / (0 + 1e-9) for the first image; the brevity factor applies.
  EXPECT_NEAR(b.per_image[0][0], 0.0, 1e-12);
  const auto r = compute_rouge_l(hyps, refs);
  EXPECT_EQ(r.per_image[0], 0.0);
  EXPECT_NEAR(r.per_image[1], 1.0, kTol);
  const auto c = compute_cider(hyps, refs);
  EXPECT_EQ(c.per_image[0], 0.0);
}

TEST(EdgeCases, OneImageGivesCiderZero) {
  const auto c = compute_cider(std::vector<std::string>{"the lungs are clear ."},
                               one_ref_each({"the lungs are clear ."}));
  EXPECT_EQ(c.corpus, 0.0);
}

TEST(EdgeCases, ClosestLengthTiesGoToShorter) {
  // Hypothesis of 4 tokens, references of 3 and 5 tokens: equally close, the shorter (3)
  // is used, so there is no brevity penalty (ratio 4/3 >= 1) and BLEU_1 = 4/4 clipped.
  const std::vector<std::string> hyps = {"a b c d"};
  const std::vector<std::vector<std::string>> refs = {{"a b c d e", "a b c"}};
  const auto s = compute_bleu(hyps, refs);
  EXPECT_NEAR(s.corpus[0], (4 + 1e-15) / (4 + 1e-9), 1e-15);
  // With the 5-token reference alone the brevity factor exp(1 - 5/4) applies.
  const auto longer = compute_bleu(hyps, std::vector<std::vector<std::string>>{{"a b c d e"}});
  EXPECT_NEAR(longer.corpus[0], (4 + 1e-15) / (4 + 1e-9) * std::exp(1 - (5 + 1e-9) / (4 + 1e-15)), 1e-15);
}

TEST(EdgeCases, ClippingUsesMaxOverReferences) {
  const std::vector<std::string> hyps = {"the the the the"};
  const std::vector<std::vector<std::string>> refs = {{"the cat", "the the dog sat"}};
  const auto s = compute_bleu(hyps, refs);
  // Closest reference length is 4 = hypothesis length; the epsilons make ratio slightly
  // below 1, so pycocoevalcap applies a brevity factor of 1 - 2.5e-10 even here.
  const double ratio = (4 + 1e-15) / (4 + 1e-9);
  EXPECT_NEAR(s.corpus[0], (2 + 1e-15) / (4 + 1e-9) * std::exp(1 - 1 / ratio), 1e-15);
}

TEST(EdgeCases, HypothesisShorterThanFourTokens) {
  const std::vector<std::string> hyps = {"lungs clear"};
  const auto refs = one_ref_each({"lungs clear"});
  const auto s = compute_bleu(hyps, refs);
  const double p1 = (2 + 1e-15) / (2 + 1e-9), p2 = (1 + 1e-15) / (1 + 1e-9);
  const double bp = std::exp(1 - (2 + 1e-9) / (2 + 1e-15));
  EXPECT_NEAR(s.corpus[0], p1 * bp, 1e-15);
  EXPECT_NEAR(s.corpus[1], std::sqrt(p1 * p2) * bp, 1e-15);
  // No trigram guesses: (0 + 1e-15) / (0 + 1e-9) = 1e-6 enters the product.
  EXPECT_NEAR(s.corpus[2], std::pow(p1 * p2 * 1e-6, 1.0 / 3) * bp, 1e-15);
  EXPECT_NEAR(s.corpus[3], std::pow(p1 * p2 * 1e-12, 1.0 / 4) * bp, 1e-15);
}

TEST(EdgeCases, RougeDoubleSpacesMakeEmptyTokens) {
  // "a  b" splits into "a", "", "b": 3 tokens, LCS with "a b" is 2.
  const auto r = compute_rouge_l(std::vector<std::string>{"a  b"}, one_ref_each({"a b"}));
  const double p = 2.0 / 3, rec = 1.0, b2 = 1.2 * 1.2;
  EXPECT_NEAR(r.corpus, (1 + b2) * p * rec / (rec + b2 * p), 1e-15);
  // An empty hypothesis is one empty token, which matches an empty token of the reference.
  const auto e = compute_rouge_l(std::vector<std::string>{""}, one_ref_each({"a  b"}));
  EXPECT_GT(e.corpus, 0.0);
}

TEST(EdgeCases, RougePrecisionAndRecallMaximisedSeparately) {
  // Ref 1 gives the best precision, ref 2 the best recall.
  const std::vector<std::string> hyps = {"a b"};
  const std::vector<std::vector<std::string>> refs = {{"a b c d e f", "a x"}};
  const auto r = compute_rouge_l(hyps, refs);
  const double p = 1.0, rec = 0.5, b2 = 1.2 * 1.2;
  EXPECT_NEAR(r.corpus, (1 + b2) * p * rec / (rec + b2 * p), 1e-15);
}

TEST(EdgeCases, MismatchedInputsThrow) {
  EXPECT_THROW(compute_bleu(std::vector<std::string>{"a"}, one_ref_each({"a", "b"})),
               std::invalid_argument);
  EXPECT_THROW(compute_cider(std::vector<std::string>{"a"}, std::vector<std::vector<std::string>>{{}}),
               std::invalid_argument);
}

// 320 images (some with 2-3 references, raw and cleaned text) scored by pycocoevalcap.
TEST(CocoFixture, MatchesPycocoevalcap) {
  const auto f = testing::load_fixture_corpus();
  ASSERT_EQ(f.hyps.size(), 320u);
  const auto b = compute_bleu(f.hyps, f.refs);
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(b.corpus[k], f.corpus_bleu[k], kTol) << "BLEU_" << k + 1;
  const auto r = compute_rouge_l(f.hyps, f.refs);
  const auto c = compute_cider(f.hyps, f.refs);
  EXPECT_NEAR(r.corpus, f.corpus_rouge, kTol);
  EXPECT_NEAR(c.corpus, f.corpus_cider, kTol);
  for (std::size_t i = 0; i < f.hyps.size(); ++i) {
    EXPECT_NEAR(r.per_image[i], f.rouge[i], kTol) << "image " << i;
    EXPECT_NEAR(c.per_image[i], f.cider[i], kTol) << "image " << i;
  }
}

}  // namespace
}  // namespace emrrg::metrics
