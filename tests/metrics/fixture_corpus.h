// Reader for tests/fixtures/metrics/metric_corpus.tsv, written by
// tests/golden/make_metric_fixtures.py from pycocoevalcap and METEOR 1.5's jar.
#pragma once
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "train/metrics/text.h"

namespace emrrg::metrics::testing {

struct FixtureCorpus {
  std::vector<std::string> hyps;
  std::vector<std::vector<std::string>> refs;
  std::vector<double> meteor, rouge, cider;  // per image
  double corpus_meteor = 0, corpus_rouge = 0, corpus_cider = 0;
  std::vector<double> corpus_bleu;  // BLEU_1..4
};

inline FixtureCorpus load_fixture_corpus() {
  FixtureCorpus f;
  const std::string path = std::string(EMRRG_FIXTURES_DIR) + "/metrics/metric_corpus.tsv";
  std::ifstream in(path);
  EXPECT_TRUE(in) << "missing fixture " << path;
  std::string line;
  while (std::getline(in, line)) {
    const auto cols = split_on(line, "\t");
    if (cols[0] == "CORPUS") {
      EXPECT_EQ(cols.size(), 8u);
      f.corpus_meteor = std::stod(cols[1]);
      f.corpus_rouge = std::stod(cols[2]);
      f.corpus_cider = std::stod(cols[3]);
      for (int k = 4; k < 8; ++k) f.corpus_bleu.push_back(std::stod(cols[k]));
      continue;
    }
    EXPECT_EQ(cols.size(), 5u) << line;
    f.hyps.push_back(cols[0]);
    f.refs.push_back(split_on(cols[1], " ||| "));
    f.meteor.push_back(std::stod(cols[2]));
    f.rouge.push_back(std::stod(cols[3]));
    f.cider.push_back(std::stod(cols[4]));
  }
  return f;
}

}  // namespace emrrg::metrics::testing
