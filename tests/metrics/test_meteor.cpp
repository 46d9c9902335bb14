// METEOR 1.5 (exact + stem + synonym, -norm) against NOTES.md's paraphrase-off numbers and
// against fixtures produced by METEOR 1.5's own jar (tests/golden/make_meteor_fixture.py).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

#include "tests/metrics/fixture_corpus.h"
#include "tests/metrics/public_vectors.h"
#include "train/metrics/meteor.h"
#include "train/metrics/meteor_normalizer.h"
#include "train/metrics/meteor_synonyms.h"
#include "train/metrics/text.h"

namespace emrrg::metrics {
namespace {

using testing::kReportHyps;
using testing::kReportRefs;
using testing::one_ref_each;

constexpr double kTol = 1e-6;

TEST(MeteorPublicVectors, Reports) {
  const auto s = compute_meteor(kReportHyps, one_ref_each(kReportRefs));
  ASSERT_EQ(s.per_image.size(), 4u);
  EXPECT_NEAR(s.per_image[0], 0.43087629113710474, kTol);
  EXPECT_NEAR(s.per_image[1], 0.3201312323019994, kTol);
  EXPECT_NEAR(s.per_image[2], 0.021276595744680854, kTol);
  EXPECT_NEAR(s.per_image[3], 1.0, kTol);
  EXPECT_NEAR(s.corpus, 0.35726427485691614, kTol);
}

TEST(MeteorPublicVectors, SynonymsStemsAndCorpus) {
  const std::vector<std::string> hyps = {"heart size is normal and lungs are clear",
                                         "the cardiac silhouette is enlarged",
                                         "no focal airspace consolidations"};
  const auto refs = one_ref_each({"the heart is normal in size . the lungs are clear .",
                                  "heart size is enlarged .", "no focal airspace consolidation ."});
  const auto s = compute_meteor(hyps, refs);
  EXPECT_NEAR(s.per_image[0], 0.3682265327704949, kTol);
  EXPECT_NEAR(s.per_image[1], 0.1736980589172093, kTol);
  EXPECT_NEAR(s.per_image[2], 0.44225882621313817, kTol);
  EXPECT_NEAR(s.corpus, 0.33483819843048185, kTol);
}

TEST(Meteor, EmptyHypothesisScoresZero) {
  const auto s = compute_meteor(std::vector<std::string>{"", "the lungs are clear ."},
                                one_ref_each({"no acute process .", "the lungs are clear ."}));
  EXPECT_EQ(s.per_image[0], 0.0);
  EXPECT_NEAR(s.per_image[1], 1.0, kTol);
}

TEST(Meteor, BestReferenceIsKept) {
  const auto data = default_meteor_data();
  MeteorScorer scorer(data);
  const std::vector<std::string> refs = {"mild cardiomegaly .", "the lungs are clear ."};
  const MeteorStats best = scorer.segment("the lungs are clear .", refs);
  EXPECT_NEAR(best.score, 1.0, kTol);
}

TEST(MeteorData, LocationOverrideAndClearError) {
  const std::string compiled = default_meteor_data_dir();
  setenv("EMRRG_METEOR_DATA", "/tmp/somewhere-else", 1);
  EXPECT_EQ(default_meteor_data_dir(), "/tmp/somewhere-else");
  unsetenv("EMRRG_METEOR_DATA");
  EXPECT_EQ(default_meteor_data_dir(), compiled);
  try {
    load_meteor_data("/nonexistent-meteor-dir");
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-meteor-dir/english."), std::string::npos) << e.what();
  }
}

TEST(MeteorNormalizer, MosesStyleTokenisation) {
  const auto& data = *default_meteor_data();
  EXPECT_EQ(meteor_normalize("The heart is normal.", data), "The heart is normal .");
  // A dot followed by a lower-case word stays attached (Moses' trick for abbreviations).
  EXPECT_EQ(meteor_normalize("normal. the lungs", data), "normal. the lungs");
  EXPECT_EQ(meteor_normalize("Dr. Smith vs. U.S. (left)", data), "Dr. Smith vs. US ( left )");
  EXPECT_EQ(meteor_normalize("No. 5 and No. X", data), "No. 5 and No . X");
  EXPECT_EQ(meteor_normalize("a,b,c 1,000 x-ray", data), "a , b,c 1,000 x ray");
  EXPECT_EQ(meteor_normalize("can't \xE2\x80\x9Cquoted\xE2\x80\x9D ...", data), "can 't \" quoted \" ...");
  // Expected strings from METEOR 1.5's own Normalizer (java edu.cmu.meteor.util.Normalizer en true).
  EXPECT_EQ(meteor_normalize("a-b-c 1990's rock'n'roll ''x'' --- \xE2\x80\x93 ok", data),
            "a b-c 1990 's rock 'n'roll \" x \" -- - ok");
  EXPECT_EQ(meteor_normalize("Mr. X. y. 3.5 cm..a", data), "Mr. X. y . 3.5 cm .. a");
}

TEST(MeteorSynonyms, MorphologyAndExceptions) {
  const auto& data = *default_meteor_data();
  SynonymDictionary dict(data);
  EXPECT_EQ(dict.morph("lungs"), "lung");
  EXPECT_EQ(dict.morph("glass"), "glass");  // ends in "ss"
  EXPECT_FALSE(dict.stem_syn_sets("mice").empty());  // exception list: mice -> mouse
  EXPECT_EQ(dict.stem_syn_sets("mice"), dict.syn_sets("mouse"));
}

// 320 images scored by METEOR 1.5's jar with -m "exact stem synonym" (paraphrase off).
TEST(MeteorJarFixture, SegmentsAndCorpus) {
  const auto f = testing::load_fixture_corpus();
  ASSERT_EQ(f.hyps.size(), 320u);
  const auto s = compute_meteor(f.hyps, f.refs);
  int bad = 0;
  for (std::size_t i = 0; i < f.hyps.size(); ++i) {
    if (std::abs(s.per_image[i] - f.meteor[i]) > kTol && ++bad <= 10) {
      ADD_FAILURE() << "segment " << i << ": ours " << s.per_image[i] << " jar " << f.meteor[i]
                    << "\n  hyp: " << f.hyps[i] << "\n  ref: " << f.refs[i][0];
    }
  }
  EXPECT_EQ(bad, 0);
  EXPECT_NEAR(s.corpus, f.corpus_meteor, kTol);
}

// 600 pairs that stress the beam search (shuffled words with many repeats, word salad),
// scored by METEOR 1.5's jar with -m "exact stem synonym".
TEST(MeteorJarFixture, BeamSearchStress) {
  const std::string path = std::string(EMRRG_FIXTURES_DIR) + "/metrics/meteor_stress.tsv";
  std::ifstream in(path);
  ASSERT_TRUE(in) << "missing fixture " << path;
  std::vector<std::string> hyps;
  std::vector<std::vector<std::string>> refs;
  std::vector<double> expected;
  double expected_corpus = -1;
  std::string line;
  while (std::getline(in, line)) {
    const auto cols = split_on(line, "\t");
    if (cols[0] == "CORPUS") {
      expected_corpus = std::stod(cols[1]);
      continue;
    }
    ASSERT_EQ(cols.size(), 3u) << line;
    hyps.push_back(cols[0]);
    refs.push_back(split_on(cols[1], " ||| "));
    expected.push_back(std::stod(cols[2]));
  }
  ASSERT_EQ(hyps.size(), 600u);
  const auto s = compute_meteor(hyps, refs);
  int bad = 0;
  for (std::size_t i = 0; i < hyps.size(); ++i)
    if (std::abs(s.per_image[i] - expected[i]) > kTol && ++bad <= 10)
      ADD_FAILURE() << "pair " << i << ": ours " << s.per_image[i] << " jar " << expected[i];
  EXPECT_EQ(bad, 0);
  EXPECT_NEAR(s.corpus, expected_corpus, kTol);
}

}  // namespace
}  // namespace emrrg::metrics
