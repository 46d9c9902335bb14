// Beam search as Hugging Face's _beam_search does it (transformers generation/utils.py), one
// prompt at a time in plain loops instead of batched tensors, with the same float32 arithmetic:
//   scores = log_softmax(logits) -> repetition penalty, min_new_tokens -> + running beam score;
//   keep the top 2K of the K*vocab candidates; the best K that did not just finish run on;
//   candidates among the top K that finished (EOS or max_new_tokens) enter the K finished slots
//   with score / generated_len^length_penalty.
// A prompt stops once its finished slots are full and the best running beam, scored at the
// current length (early_stopping=False), cannot beat the worst of them. HF's -1e9 sentinels are
// kept as they are, since they take part in the orderings.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>
#include <stdexcept>

#include "models/generation/logits_processors.h"
#include "models/generation/search.h"
#include "models/generation/search_rows.h"

namespace emrrg::generation {

namespace {

constexpr float kSentinel = -1.0e9f;

struct Hypothesis {
  std::vector<int64_t> tokens;
  float score = kSentinel;
  bool finished = false;
  int64_t parent = 0;  // running beams: the beam this one extends, in the previous step
};

struct PromptBeams {
  std::vector<Hypothesis> running;   // K, best first
  std::vector<Hypothesis> finished;  // K slots, best first; unfilled slots hold the sentinel
  bool improvable = true;            // HF's is_early_stop_heuristic_unsatisfied
};

// Indices of the k largest values, best first; ties go to the lower index (no tie decides a
// result: HF's sentinels only tie among hypotheses that are never returned).
std::vector<int64_t> top_k(std::span<const float> values, int64_t k) {
  std::vector<int64_t> idx(values.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t a, int64_t b) {
    return values[a] > values[b] || (values[a] == values[b] && a < b);
  });
  idx.resize(k);
  return idx;
}

float length_normalised(float sum_logprobs, int64_t length, float length_penalty) {
  return sum_logprobs / static_cast<float>(std::pow(static_cast<double>(length), static_cast<double>(length_penalty)));
}

// One step of one prompt. beam_scores: [K, vocab] processed log-probabilities of its running
// beams (before adding their running scores). `step` tokens have been generated before this one.
void advance(PromptBeams& p, std::span<float> beam_scores, int64_t vocab, int64_t step,
             const GenerationConfig& config) {
  const int64_t beams = config.num_beams;
  for (int64_t k = 0; k < beams; ++k)
    for (int64_t v = 0; v < vocab; ++v) beam_scores[k * vocab + v] += p.running[k].score;
  const int64_t keep = 2 * beams;
  const std::vector<int64_t> best = top_k(beam_scores, keep);

  std::vector<Hypothesis> candidates(keep);
  std::vector<float> running_scores(keep), finished_scores(keep);
  for (int64_t j = 0; j < keep; ++j) {
    const int64_t beam = best[j] / vocab, token = best[j] % vocab;
    Hypothesis& c = candidates[j];
    c.tokens = p.running[beam].tokens;
    c.tokens.push_back(token);
    c.parent = beam;
    const float score = beam_scores[best[j]];
    const bool stops = token == config.eos_id || step + 1 == config.max_new_tokens;
    c.finished = stops && j < beams;  // only the top K may finish
    running_scores[j] = stops ? score + kSentinel : score;
    float finished = length_normalised(score, step + 1, config.length_penalty);
    if (!p.improvable) finished += kSentinel;
    if (!c.finished) finished += kSentinel;
    finished_scores[j] = finished;
  }

  std::vector<Hypothesis> running;
  for (int64_t j : top_k(running_scores, beams)) {
    running.push_back(candidates[j]);
    running.back().score = running_scores[j];
    running.back().finished = false;
  }
  p.running = std::move(running);

  // The K old slots then the 2K candidates, best K kept (HF concatenates in this order).
  std::vector<float> merged_scores;
  for (const Hypothesis& h : p.finished) merged_scores.push_back(h.score);
  merged_scores.insert(merged_scores.end(), finished_scores.begin(), finished_scores.end());
  std::vector<Hypothesis> finished;
  for (int64_t m : top_k(merged_scores, beams)) {
    finished.push_back(m < beams ? p.finished[m] : candidates[m - beams]);
    finished.back().score = merged_scores[m];
  }
  p.finished = std::move(finished);

  if (p.improvable) {
    const float best_running = length_normalised(p.running[0].score, step + 1, config.length_penalty);
    float worst = p.finished[0].score;
    for (const Hypothesis& h : p.finished) worst = std::min(worst, h.score);
    bool improvable = false;
    for (const Hypothesis& h : p.finished) improvable |= best_running > (h.finished ? worst : kSentinel);
    p.improvable = improvable;
  }
}

}  // namespace

std::vector<GeneratedSequence> beam_search(StepDecoder& decoder, const Tensor& prompt_logits,
                                           const std::vector<std::vector<int64_t>>& prompt_ids,
                                           const GenerationConfig& config) {
  detail::check_generate_args(decoder, prompt_logits, prompt_ids, config);
  const int64_t vocab = decoder.vocab_size();
  const int64_t prompts = prompt_logits.size(0);
  const int64_t beams = config.num_beams;
  if (vocab < 2)
    throw std::invalid_argument("beam search: needs a vocabulary of at least 2 tokens for 2 * num_beams candidates");
  std::vector<GeneratedSequence> out(prompts);
  if (config.max_new_tokens == 0) return out;

  std::vector<PromptBeams> state(prompts);
  for (PromptBeams& p : state) {
    p.running.resize(beams);
    p.finished.resize(beams);
    // Only beam 0 is live at first, so the K beams do not all pick the same tokens.
    p.running[0].score = 0.0f;
  }
  // Every beam of a prompt starts from the prompt's logits: decoder row p*K + k <- prompt row p.
  const std::vector<float> first = detail::read_logits(prompt_logits, prompts, vocab, 0);
  std::vector<float> logits(prompts * beams * vocab);
  std::vector<int64_t> expand;
  for (int64_t p = 0; p < prompts; ++p)
    for (int64_t k = 0; k < beams; ++k) {
      std::copy_n(first.begin() + p * vocab, vocab, logits.begin() + (p * beams + k) * vocab);
      expand.push_back(p);
    }
  decoder.select_rows(expand);

  std::vector<int64_t> active(prompts);  // decoder rows a*K .. a*K+K-1 belong to prompt active[a]
  std::iota(active.begin(), active.end(), 0);
  for (int64_t step = 0;; ++step) {
    for (size_t a = 0; a < active.size(); ++a) {
      PromptBeams& p = state[active[a]];
      std::span<float> scores(logits.data() + a * beams * vocab, beams * vocab);
      for (int64_t k = 0; k < beams; ++k) {
        std::span<float> row = scores.subspan(k * vocab, vocab);
        log_softmax(row);
        apply_repetition_penalty(row, detail::prompt_of(prompt_ids, active[a]), p.running[k].tokens,
                                 config.repetition_penalty);
        apply_min_new_tokens(row, step, config.min_new_tokens, config.eos_id);
      }
      advance(p, scores, vocab, step, config);
    }
    if (step + 1 == config.max_new_tokens) break;
    std::vector<int64_t> still_active, rows, tokens;
    for (size_t a = 0; a < active.size(); ++a) {
      const PromptBeams& p = state[active[a]];
      if (!p.improvable) continue;
      still_active.push_back(active[a]);
      for (const Hypothesis& h : p.running) {
        rows.push_back(static_cast<int64_t>(a) * beams + h.parent);
        tokens.push_back(h.tokens.back());
      }
    }
    if (still_active.empty()) break;
    active = std::move(still_active);
    decoder.select_rows(rows);
    logits = detail::read_logits(decoder.step(tokens), static_cast<int64_t>(rows.size()), vocab, step + 1);
  }
  for (int64_t p = 0; p < prompts; ++p) {
    out[p].tokens = state[p].finished[0].tokens;
    out[p].score = state[p].finished[0].score;
  }
  return out;
}

}  // namespace emrrg::generation
