// The score that picks the best checkpoint: a linear combination of validation metrics written as
// text, "0.8 * bleu_4 + 0.2 * cider" by default (R2GenGPT / EMRRG). Terms are `name`,
// `number * name` or `name * number`, joined by + or -.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace emrrg::train {

class SelectionFormula {
 public:
  // Throws std::invalid_argument quoting the text and the position of the first error.
  explicit SelectionFormula(const std::string& text);
  // Throws when a metric the formula names is absent, listing what the metrics have.
  double evaluate(const std::map<std::string, double>& metrics) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::vector<std::pair<double, std::string>> terms_;  // coefficient, metric
};

}  // namespace emrrg::train
