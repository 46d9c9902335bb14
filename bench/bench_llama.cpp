// CPU generation throughput of the Llama decoder with its KV cache (tokens/s, greedy, batch 1,
// float32): the real stories260K checkpoint, and a random model of llama2.c's stories110M shape
// (dim 768, 12 layers, 12 heads, hidden 2048, vocab 32000; 110M parameters). Each iteration
// prefills BOS and generates a fixed number of tokens through models/generation.
#include <benchmark/benchmark.h>

#include <memory>

#include "models/generation/search.h"
#include "models/llama/llama_loader.h"
#include "models/llama/llama_step_decoder.h"

namespace {

using namespace emrrg;

void generate_tokens(benchmark::State& state, const models::Llama& model, int64_t new_tokens) {
  generation::GenerationConfig config;
  config.max_new_tokens = new_tokens;  // no EOS: every iteration makes the same number
  const std::vector<std::vector<int64_t>> prompt{{1}};
  for (auto _ : state) {
    models::LlamaStepDecoder decoder(model);
    const auto out = generation::generate(decoder, decoder.prefill(prompt), prompt, config);
    benchmark::DoNotOptimize(out[0].tokens.data());
  }
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * new_tokens), benchmark::Counter::kIsRate);
}

void BM_GenerateStories260K(benchmark::State& state) {
  static const auto model = models::load_llama2c(EMRRG_BENCH_STORIES260K);
  generate_tokens(state, *model, 256);
}
BENCHMARK(BM_GenerateStories260K)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_GenerateRandom110M(benchmark::State& state) {
  static const auto model = [] {
    models::LlamaConfig c;
    c.vocab_size = 32000;
    c.hidden_size = 768;
    c.intermediate_size = 2048;
    c.num_layers = 12;
    c.num_heads = c.num_kv_heads = 12;
    c.head_dim = 64;
    Generator gen(0);
    return std::make_unique<models::Llama>(c, gen);
  }();
  generate_tokens(state, *model, 32);
}
BENCHMARK(BM_GenerateRandom110M)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
