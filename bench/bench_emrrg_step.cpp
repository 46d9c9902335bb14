// One CPU training step (forward, backward, AdamW) of the demo-size EMRRG model of issue 11 item 8:
// Vim d_model 192 x depth 6 on 2 views of 224 px, batch 4, LoRA_p(X) rank 32 plus in_proj LoRA;
// a Llama of hidden 256 x 4 layers (8 heads, intermediate 688, vocabulary 32000) with hybrid layers
// [0, 2] and the visual prefix; reports of 60 tokens. Random weights, built through the config API.
//
// Besides seconds per step (wall and process CPU time: the machine may be shared) it prints the
// step's achieved GFLOP/s against OpenBLAS's sgemm peak measured here (1024^3), and where the time
// goes by phase (forward + loss, backward, optimiser). For a per-op profile
// run it under `perf record -g` and `perf report --no-children`.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <vector>

#include "autograd/tape.h"
#include "models/emrrg/emrrg.h"
#include "ops/ops.h"
#include "runtime/threading.h"
#include "train/optimizer.h"

namespace {

using namespace emrrg;

constexpr int64_t kBatch = 4, kViews = 2, kImage = 224, kReport = 60;

models::EmrrgConfig item8_config() {
  models::EmrrgConfig c;
  models::VisionMambaConfig& v = c.vision;
  v.kind = models::VisionMambaKind::Vim;
  v.image_size = kImage;
  v.d_model = 192;
  v.depth = 6;
  v.peft.lora_p_x = true;
  v.peft.lora_in_proj = true;  // as the paper's ET-SSM setting
  v.peft.rank = 32;
  models::LlamaConfig& l = c.llm;
  l.vocab_size = 32000;
  l.hidden_size = 256;
  l.intermediate_size = 688;
  l.num_layers = 4;
  l.num_heads = 8;
  l.num_kv_heads = 8;
  l.head_dim = 32;
  c.hybrid_layers = {0, 2};
  c.llm_tuning = models::LlmTuning::Hybrid;
  c.visual_prefix = true;
  return c;
}

// The R2GenGPT prompt's halves are about 6 and 25 Llama-2 tokens long.
models::PromptTokens item8_prompt() {
  models::PromptTokens p;
  for (int64_t i = 0; i < 6; ++i) p.before.push_back(100 + i);
  for (int64_t i = 0; i < 25; ++i) p.after.push_back(200 + i);
  return p;
}

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The step's FLOPs: 2 m n k per product; the selective scan ~9 d N per token and direction. The
// backward of a frozen weight's product computes only the input's gradient (1x its forward), of a
// trained one both (2x); attention's backward recomputes the probabilities (2.5x); the patch
// embedding's input is the image (no backward).
double step_flops() {
  const double B = kBatch, V = kViews, L = 197, D = 192, E = 2 * D, N = 16, R = 12, rank = 32;
  const double tok = B * V * L;
  auto fwd_bwd = [](double f, double bwd_factor) { return f * (1 + bwd_factor); };
  double vim = 0;
  vim += fwd_bwd(tok * 2 * D * 2 * E, 1);           // in_proj (frozen)
  vim += fwd_bwd(tok * 2 * rank * (D + 2 * E), 2);  // in_proj LoRA on the whole output
  vim += fwd_bwd(tok * 2 * rank * (D + E), 2);      // LoRA_p(X) on the x rows
  vim += fwd_bwd(2 * tok * 2 * E * (R + 2 * N), 1); // x_proj, both directions
  vim += fwd_bwd(2 * tok * 2 * R * E, 1);           // dt_proj, both directions
  vim += fwd_bwd(2 * tok * 9 * E * N, 2);           // selective scan, both directions
  vim += fwd_bwd(tok * 2 * E * D, 1);               // out_proj
  vim *= 6;                                         // depth
  vim += B * V * 196 * 2 * 768 * D;                 // patch embedding
  const double H = 256, I = 688, S = 1 + 6 + 197 + 25 + kReport, Vocab = 32000, Nv = 197;
  const double rows = B * S;
  double llm = 0;
  llm += 4 * fwd_bwd(rows * 2 * H * 4 * H + rows * 2 * 3 * H * I, 1);  // q k v o, gate up down
  llm += 4 * fwd_bwd(B * 2 * S * S * H, 2.5);                          // causal QK^T and PV
  llm += 2 * fwd_bwd(B * Nv * 2 * H * 2 * H, 2);                       // hybrid kv_proj (trained)
  llm += 2 * fwd_bwd(rows * 2 * 2 * Nv * H, 2.5);                      // cross-attention QK^T and PV
  llm += fwd_bwd(B * kReport * 2 * H * Vocab, 1);                      // lm_head on the report positions
  return vim + llm;
}

double sgemm_peak_flops() {
  const int n = 1024;
  std::vector<float> a(static_cast<size_t>(n) * n, 0.5f), b(a), c(a.size());
  auto run = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  };
  run();
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    const double t0 = wall_seconds();
    run();
    best = std::min(best, wall_seconds() - t0);
  }
  return 2.0 * n * n * n / best;
}

struct Phases {
  double forward = 0, backward = 0, optimiser = 0;
};

void BM_emrrg_train_step(benchmark::State& state) {
  set_num_threads(static_cast<int>(state.range(0)));
  const double peak = sgemm_peak_flops();
  Generator gen(7);
  auto model = models::build_emrrg(item8_config(), item8_prompt(), gen);
  train::AdamW opt(model->trainable_parameters(), {1e-4, 0.9, 0.999, 1e-8, 0.01});
  Tensor images = rand_uniform({kBatch, kViews, 3, kImage, kImage}, -1, 1, gen);
  std::vector<int64_t> ids(kBatch * kReport), mask(kBatch * kReport, 1);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = 3 + static_cast<int64_t>((i * 7919) % 31990);
  for (int64_t t = 50; t < kReport; ++t) mask[t] = 0;  // the first report is shorter, padded
  Tensor report_ids = from_vector(ids, {kBatch, kReport}), report_mask = from_vector(mask, {kBatch, kReport});

  Phases phases;
  int64_t steps = 0;
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    const double t0 = wall_seconds();
    opt.zero_grad();
    Tensor loss = model->loss(images, report_ids, report_mask);
    const double t1 = wall_seconds();
    autograd::backward(loss);
    const double t2 = wall_seconds();
    opt.step();
    const double t3 = wall_seconds();
    phases.forward += t1 - t0;
    phases.backward += t2 - t1;
    phases.optimiser += t3 - t2;
    state.SetIterationTime(t3 - t0);
    ++steps;
  }
  const double n = static_cast<double>(std::max<int64_t>(steps, 1));
  const double wall_per_step = (phases.forward + phases.backward + phases.optimiser) / n;
  state.counters["s/step"] = wall_per_step;
  state.counters["cpu_s/step"] = (process_cpu_seconds() - cpu0) / n;
  state.counters["fwd_s"] = phases.forward / n;
  state.counters["bwd_s"] = phases.backward / n;
  state.counters["adamw_s"] = phases.optimiser / n;
  state.counters["GFLOP/step"] = step_flops() * 1e-9;
  state.counters["GFLOP/s"] = step_flops() / wall_per_step * 1e-9;
  state.counters["sgemm_peak_GFLOP/s"] = peak * 1e-9;
  state.counters["of_peak"] = step_flops() / wall_per_step / peak;
}

BENCHMARK(BM_emrrg_train_step)->Arg(1)->Arg(2)->UseManualTime()->Unit(benchmark::kSecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
