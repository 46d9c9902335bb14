// Report metrics over 10,000 deterministic report pairs (no data files): BLEU + ROUGE-L +
// CIDEr-D together (target < 2 s on the 2-core machine), METEOR (target < 30 s), and the
// labeller / CE and cleaning for reference.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "train/metrics/bleu.h"
#include "train/metrics/cider.h"
#include "train/metrics/clinical_efficacy.h"
#include "train/metrics/meteor.h"
#include "train/metrics/report_cleaning.h"
#include "train/metrics/rouge.h"

namespace {

using namespace emrrg::metrics;

const char* const kSentences[] = {
    "the heart is normal in size", "heart size is normal", "the cardiac silhouette is enlarged",
    "mild cardiomegaly", "the heart is mildly enlarged", "the lungs are clear", "lungs are clear bilaterally",
    "no pneumothorax", "no pleural effusion", "small left pleural effusion", "there is no focal consolidation",
    "no focal airspace consolidations", "bibasilar atelectasis", "the mediastinum is unremarkable",
    "degenerative changes of the thoracic spine", "no acute cardiopulmonary process",
    "stable calcified granuloma in the right upper lobe", "interval removal of the endotracheal tube",
    "pulmonary vascular congestion", "mild pulmonary edema", "cannot exclude a small effusion",
    "possible pneumonia in the left lower lobe", "patchy opacities are seen in the right base",
    "the osseous structures are intact", "sternotomy wires are in place", "the picc line terminates in the svc",
    "no evidence of fracture", "large right pneumothorax", "the cardiomediastinal silhouette is within normal limits",
    "increased interstitial markings", "hyperinflated lungs consistent with copd",
    "left basilar opacity likely atelectasis", "there are low lung volumes", "the trachea is midline",
    "the costophrenic angles are sharp", "no effusions", "effusion is unchanged", "a nodule is seen in the left apex"};
constexpr std::uint32_t kNumSentences = sizeof(kSentences) / sizeof(kSentences[0]);

struct Corpus {
  std::vector<std::string> hyps;
  std::vector<std::vector<std::string>> refs;
  std::vector<std::string> flat_refs;
};

// 10,000 pairs of 4-8 sentence reports (about 40-60 tokens each), from a fixed LCG.
const Corpus& corpus() {
  static const Corpus c = [] {
    Corpus out;
    std::uint64_t state = 0x2545F4914F6CDD1Dull;
    auto next = [&](std::uint32_t n) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      return static_cast<std::uint32_t>(state >> 33) % n;
    };
    auto report = [&] {
      std::string r;
      const std::uint32_t k = 4 + next(5);
      for (std::uint32_t i = 0; i < k; ++i) {
        r += kSentences[next(kNumSentences)];
        r += " . ";
      }
      r.pop_back();
      return r;
    };
    for (int i = 0; i < 10000; ++i) {
      out.flat_refs.push_back(report());
      out.refs.push_back({out.flat_refs.back()});
      // Half the hypotheses share sentences with their reference, half are independent.
      out.hyps.push_back(i % 2 == 0 ? out.flat_refs.back().substr(0, out.flat_refs.back().size() / 2) + " . " + report()
                                    : report());
    }
    return out;
  }();
  return c;
}

void BM_BleuRougeCider10k(benchmark::State& state) {
  const Corpus& c = corpus();
  for (auto _ : state) {
    benchmark::DoNotOptimize(compute_bleu(c.hyps, c.refs).corpus);
    benchmark::DoNotOptimize(compute_rouge_l(c.hyps, c.refs).corpus);
    benchmark::DoNotOptimize(compute_cider(c.hyps, c.refs).corpus);
  }
}
BENCHMARK(BM_BleuRougeCider10k)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_Meteor10k(benchmark::State& state) {
  const Corpus& c = corpus();
  const auto data = default_meteor_data();  // loaded once, outside the timing
  for (auto _ : state) benchmark::DoNotOptimize(compute_meteor(c.hyps, c.refs, data).corpus);
}
BENCHMARK(BM_Meteor10k)->Unit(benchmark::kMillisecond)->Iterations(1);

void BM_MeteorDataLoad(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(load_meteor_data(default_meteor_data_dir()));
}
BENCHMARK(BM_MeteorDataLoad)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_LabelAndCE10k(benchmark::State& state) {
  const Corpus& c = corpus();
  for (auto _ : state) benchmark::DoNotOptimize(clinical_efficacy(c.flat_refs, c.hyps).micro.f1);
}
BENCHMARK(BM_LabelAndCE10k)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_CleanMimic10k(benchmark::State& state) {
  const Corpus& c = corpus();
  for (auto _ : state)
    for (const auto& r : c.flat_refs) benchmark::DoNotOptimize(clean_report(r, CleaningStyle::kMimicCxr));
}
BENCHMARK(BM_CleanMimic10k)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
