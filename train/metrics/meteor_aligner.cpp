#include "train/metrics/meteor_aligner.h"

#include <libstemmer.h>

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <stdexcept>

#include "train/metrics/meteor_text.h"

namespace emrrg::metrics {

namespace {

constexpr int kBeamSize = 40;
// Module weights the aligner ranks partial alignments with (MeteorScorer sets 1, 0.5, 0.5).
constexpr std::array<double, kMeteorModules> kSearchWeights = {1.0, 0.5, 0.5};

struct Match {
  int module = 0;
  int start = 0;         // position in the reference (line 2)
  int length = 1;
  int match_start = 0;   // position in the test (line 1)
  int match_length = 1;
};

struct Path {
  std::vector<const Match*> matches;  // by reference position
  int match_count = 0;
  int matches1 = 0;  // Java ints: weighted sums truncated on every +=
  int matches2 = 0;
  int all_matches1 = 0;
  int all_matches2 = 0;
  int chunks = 0;
  int idx = 0;
  int last_match_end = -1;
  int distance = 0;
  std::vector<char> used1;
  std::vector<char> used2;

  bool is_used(const Match& m) const {
    for (int i = 0; i < m.length; ++i)
      if (used2[m.start + i]) return true;
    for (int i = 0; i < m.match_length; ++i)
      if (used1[m.match_start + i]) return true;
    return false;
  }
  void set_used(const Match& m) {
    for (int i = 0; i < m.length; ++i) used2[m.start + i] = 1;
    for (int i = 0; i < m.match_length; ++i) used1[m.match_start + i] = 1;
  }
  // Java's `matches1 += matchLength * weight`: int + double, narrowed back to int.
  void add_match_weights(const Match& m) {
    matches1 = static_cast<int>(matches1 + m.match_length * kSearchWeights[m.module]);
    matches2 = static_cast<int>(matches2 + m.length * kSearchWeights[m.module]);
    all_matches1 += m.match_length;
    all_matches2 += m.length;
  }
};

// Constants.PARTIAL_COMPARE_TOTAL as a strict ordering: more weighted matches, then fewer
// chunks, then smaller distance.
bool path_before(const Path& x, const Path& y) {
  const int xm = x.matches1 + x.matches2, ym = y.matches1 + y.matches2;
  if (xm != ym) return xm > ym;
  if (x.chunks != y.chunks) return x.chunks < y.chunks;
  return x.distance < y.distance;
}

// The indices of the best `limit` paths in the order a stable sort by path_before would put
// them (ties by position, as METEOR's Collections.sort keeps them), without sorting or moving the
// rest: a step can hold beam size x matches-per-word candidates, of which the beam keeps 40.
std::vector<int> beam_order(const std::vector<Path>& paths, int limit) {
  std::vector<int> order(paths.size());
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + limit, order.end(), [&](int x, int y) {
    if (path_before(paths[x], paths[y])) return true;
    if (path_before(paths[y], paths[x])) return false;
    return x < y;
  });
  order.resize(static_cast<size_t>(limit));
  return order;
}

Path resolve(const std::vector<std::vector<Match>>& stage, Path start) {
  const int n = static_cast<int>(stage.size());
  std::vector<Path> next;
  next.push_back(std::move(start));
  std::vector<Path> paths;
  for (int current = 0; current <= n; ++current) {
    paths = std::move(next);
    next.clear();
    const std::vector<int> beam = beam_order(paths, std::min<int>(kBeamSize, static_cast<int>(paths.size())));
    for (const int index : beam) {
      Path& path = paths[index];
      if (current == n) {  // complete: close the last chunk
        if (path.last_match_end != -1) ++path.chunks;
        next.push_back(std::move(path));
        continue;
      }
      if (path.used2[current]) {
        if (current < path.idx) {
          next.push_back(std::move(path));  // still inside a match
        } else if (path.matches[path.idx] != nullptr) {  // a fixed match starts here
          const Match& m = *path.matches[path.idx];
          ++path.match_count;
          path.add_match_weights(m);
          if (path.last_match_end != -1 && m.match_start != path.last_match_end) ++path.chunks;
          path.idx = m.start + m.length;
          path.last_match_end = m.match_start + m.match_length;
          path.distance += std::abs(m.start - m.match_start);
          next.push_back(std::move(path));
        }
        continue;
      }
      for (const Match& m : stage[current]) {
        if (path.is_used(m)) continue;
        Path np = path;
        np.set_used(m);
        np.matches[current] = &m;
        ++np.match_count;
        np.add_match_weights(m);
        if (np.last_match_end != -1 && m.match_start != np.last_match_end) ++np.chunks;
        np.idx = m.start + m.length;
        np.last_match_end = m.match_start + m.match_length;
        // METEOR 1.5 adds this distance to the path being extended, not to the new one.
        path.distance += std::abs(m.start - m.match_start);
        next.push_back(std::move(np));
      }
      // Try skipping this position.
      if (path.last_match_end != -1) {
        ++path.chunks;
        path.last_match_end = -1;
      }
      ++path.idx;
      next.push_back(std::move(path));
    }
    if (next.empty()) next.push_back(paths[beam.front()]);  // METEOR's "unexpected conditions" fallback
  }
  return std::move(*std::min_element(next.begin(), next.end(), path_before));  // the first of the best
}

}  // namespace

MeteorAligner::MeteorAligner(std::shared_ptr<const MeteorData> data)
    : data_(std::move(data)), synonyms_(*data_) {
  stemmer_ = sb_stemmer_new("english", "UTF_8");
  if (stemmer_ == nullptr) throw std::runtime_error("libstemmer: no English stemmer");
}

MeteorAligner::~MeteorAligner() { sb_stemmer_delete(stemmer_); }

std::string MeteorAligner::stem(const std::string& word) {
  const sb_symbol* out =
      sb_stemmer_stem(stemmer_, reinterpret_cast<const sb_symbol*>(word.data()), static_cast<int>(word.size()));
  if (out == nullptr) throw std::runtime_error("libstemmer: out of memory");
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(sb_stemmer_length(stemmer_)));
}

const MeteorAligner::WordInfo& MeteorAligner::info(const std::string& word) {
  auto it = cache_.find(word);
  if (it != cache_.end()) return it->second;
  WordInfo w;
  w.hash = java_hash(word);
  w.stem_hash = java_hash(stem(word));
  w.function_word = data_->function_words.contains(word);  // words are already lower-case
  w.synsets = synonyms_.all_syn_sets(word);
  return cache_.emplace(word, std::move(w)).first->second;
}

MeteorAlignment MeteorAligner::align(const std::vector<std::string>& test, const std::vector<std::string>& reference) {
  const int n1 = static_cast<int>(test.size()), n2 = static_cast<int>(reference.size());
  std::vector<const WordInfo*> w1(n1), w2(n2);
  for (int i = 0; i < n1; ++i) w1[i] = &info(test[i]);
  for (int j = 0; j < n2; ++j) w2[j] = &info(reference[j]);

  // Identical word-key sequences need only the exact module ("prevents beam search errors").
  bool identical = n1 == n2;
  for (int i = 0; identical && i < n1; ++i) identical = w1[i]->hash == w2[i]->hash;
  const int modules_used = identical ? 1 : kMeteorModules;

  std::vector<std::vector<Match>> stage(n2);
  std::vector<int> coverage1(n1, 0), coverage2(n2, 0);
  auto add = [&](int module, int i, int j) {
    Match m;
    m.module = module;
    m.start = j;
    m.match_start = i;
    stage[j].push_back(m);
    ++coverage1[i];
    ++coverage2[j];
  };
  for (int module = 0; module < modules_used; ++module) {
    for (int j = 0; j < n2; ++j) {
      for (int i = 0; i < n1; ++i) {
        const WordInfo& a = *w1[i];
        const WordInfo& b = *w2[j];
        bool match = false;
        if (module == 0) {
          match = a.hash == b.hash;
        } else if (module == 1) {
          match = a.stem_hash == b.stem_hash && a.hash != b.hash;
        } else {
          if (a.hash != b.hash) {
            // Any shared synset.
            std::size_t p = 0, q = 0;
            while (p < a.synsets.size() && q < b.synsets.size() && !match) {
              if (a.synsets[p] < b.synsets[q]) {
                ++p;
              } else if (b.synsets[q] < a.synsets[p]) {
                ++q;
              } else {
                match = true;
              }
            }
          }
        }
        if (match) add(module, i, j);
      }
    }
  }

  // One-to-one matches that nothing overlaps are definite.
  Path start;
  start.matches.assign(n2, nullptr);
  start.used1.assign(n1, 0);
  start.used2.assign(n2, 0);
  for (int j = 0; j < n2; ++j) {
    if (stage[j].size() != 1) continue;
    const Match& m = stage[j][0];
    bool overlap = false;
    for (int k = 0; k < m.length; ++k) overlap = overlap || coverage2[j + k] != 1;
    for (int k = 0; k < m.match_length; ++k) overlap = overlap || coverage1[m.match_start + k] != 1;
    if (!overlap) {
      start.matches[j] = &m;
      start.set_used(m);
    }
  }

  const Path best = resolve(stage, std::move(start));

  MeteorAlignment a;
  a.test_length = n1;
  a.ref_length = n2;
  for (int i = 0; i < n1; ++i) a.test_function_words += w1[i]->function_word;
  for (int j = 0; j < n2; ++j) a.ref_function_words += w2[j]->function_word;
  for (const Match* m : best.matches) {
    if (m == nullptr) continue;
    for (int k = 0; k < m->match_length; ++k)
      (w1[m->match_start + k]->function_word ? a.test_function : a.test_content)[m->module]++;
    for (int k = 0; k < m->length; ++k) (w2[m->start + k]->function_word ? a.ref_function : a.ref_content)[m->module]++;
  }
  // Chunks, recounted from the final matches (Aligner.getCountAndChunks).
  int idx = 0, last_end = -1;
  while (idx < n2) {
    const Match* m = best.matches[idx];
    if (m == nullptr) {
      if (last_end != -1) {
        ++a.chunks;
        last_end = -1;
      }
      ++idx;
    } else {
      if (last_end != -1 && m->match_start != last_end) ++a.chunks;
      idx = m->start + m->length;
      last_end = m->match_start + m->match_length;
    }
  }
  if (last_end != -1) ++a.chunks;
  return a;
}

}  // namespace emrrg::metrics
