// CheXbert labelling throughput on the CPU (reports/s: tokenise, pad into batches of 32, run the
// model, argmax the heads), with 2 threads as on the project's CI machine: the tiny test model
// (tests/fixtures/chexbert, hidden 32, 2 layers) on 10,000 generated reports, and a random model
// of the published checkpoint's size (BERT-base: hidden 768, 12 layers, 12 heads, 110M
// parameters) on 64 reports, since it takes seconds per batch there.
#include <benchmark/benchmark.h>

#include <cctype>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/threading.h"
#include "train/metrics/chexbert_labeller.h"

namespace {

using namespace emrrg;

const char* const kSentences[] = {
      "The heart is normal in size.", "The mediastinum is unremarkable.", "The lungs are clear.",
      "There is a small left pleural effusion with adjacent atelectasis.", "Mild cardiomegaly.",
      "No pneumothorax or pleural effusion.", "Possible right lower lobe pneumonia.",
      "Consolidation cannot be excluded.", "Tube tip at 4 cm above the carina.",
      "Moderate bilateral pleural effusions, increased since the prior study.",
      "No acute osseous abnormality.", "Stable 1.2 cm nodule in the right upper lobe."};

// Reports of 4-8 of those sentences, in the style of MIMIC-CXR findings.
std::vector<std::string> make_reports(int n) {
  constexpr int kCount = sizeof kSentences / sizeof kSentences[0];
  std::vector<std::string> reports;
  uint32_t state = 12345;
  for (int i = 0; i < n; ++i) {
    std::string r;
    const int sentences = 4 + i % 5;
    for (int s = 0; s < sentences; ++s) {
      state = state * 1664525u + 1013904223u;
      if (s) r += ' ';
      r += kSentences[(state >> 16) % kCount];
    }
    reports.push_back(r);
  }
  return reports;
}

void label_reports(benchmark::State& state, const metrics::ChexbertLabeller& labeller, int reports_per_iteration) {
  set_num_threads(2);
  const auto reports = make_reports(reports_per_iteration);
  double ids = 0;
  for (const auto& r : reports) ids += static_cast<double>(labeller.encode(r).size());
  for (auto _ : state) benchmark::DoNotOptimize(labeller.label(reports).data());
  state.counters["ids/report"] = ids / reports_per_iteration;
  state.counters["reports/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * reports_per_iteration), benchmark::Counter::kIsRate);
}

void BM_ChexbertTinyCpu(benchmark::State& state) {
  static const metrics::ChexbertLabeller labeller(metrics::chexbert_files_in(EMRRG_BENCH_CHEXBERT_DIR));
  label_reports(state, labeller, 10000);
}
BENCHMARK(BM_ChexbertTinyCpu)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);

// A random BERT-base-sized CheXbert. Its vocabulary is the tiny one plus every word of the
// sentences above, padded to bert-base-uncased's 30,522 entries, so a report has about as many
// ids as with the real vocabulary (one per word or punctuation mark).
void BM_ChexbertBaseSizeCpu(benchmark::State& state) {
  static const auto labeller = [] {
    const auto tiny = data::WordPieceTokenizer::from_file(std::string(EMRRG_BENCH_CHEXBERT_DIR) + "/vocab.txt");
    std::ostringstream vocab;
    for (int i = 0; i < tiny.vocab_size(); ++i) vocab << tiny.token(i) << "\n";
    int entries = tiny.vocab_size();
    std::set<std::string> added;
    for (const char* sentence : kSentences) {
      std::istringstream in(sentence);
      for (std::string w; in >> w;) {
        std::string word;
        for (const char c : w)
          if (std::isalpha(static_cast<unsigned char>(c))) word += static_cast<char>(std::tolower(c));
        if (word.empty() || tiny.token_id(word) >= 0 || !added.insert(word).second) continue;
        vocab << word << "\n";
        ++entries;
      }
    }
    for (; entries < 30522; ++entries) vocab << "[unused" << entries << "]\n";
    Generator gen(0);
    return std::make_unique<metrics::ChexbertLabeller>(data::WordPieceTokenizer(vocab.str(), "bench vocabulary"),
                                                       std::make_unique<models::Chexbert>(models::BertConfig::base(), gen));
  }();
  label_reports(state, *labeller, 64);
}
BENCHMARK(BM_ChexbertBaseSizeCpu)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
