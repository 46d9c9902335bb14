#include "train/selection_formula.h"

#include <cctype>
#include <cstdlib>
#include <stdexcept>

namespace emrrg::train {

namespace {
struct Cursor {
  const std::string& s;
  size_t i = 0;
  void skip() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw std::invalid_argument("selection formula '" + s + "': " + what + " at character " + std::to_string(i + 1));
  }
  bool at_name() const { return i < s.size() && (std::isalpha(static_cast<unsigned char>(s[i])) || s[i] == '_'); }
  std::string name() {
    const size_t b = i;
    while (i < s.size() &&
           (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' || s[i] == '.' || s[i] == '/'))
      ++i;
    return s.substr(b, i - b);
  }
  double number() {
    const char* begin = s.c_str() + i;
    char* end = nullptr;
    const double v = std::strtod(begin, &end);
    if (end == begin) fail("expected a number or a metric name");
    i += static_cast<size_t>(end - begin);
    return v;
  }
  bool take(char c) {
    skip();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
};
}  // namespace

SelectionFormula::SelectionFormula(const std::string& text) : text_(text) {
  Cursor c{text_};
  double sign = 1.0;
  for (;;) {
    c.skip();
    double coef = 1.0;
    std::string metric;
    if (c.at_name()) {
      metric = c.name();
      if (c.take('*')) {
        c.skip();
        coef = c.number();
      }
    } else {
      coef = c.number();
      if (!c.take('*')) c.fail("expected '*' after the coefficient");
      c.skip();
      if (!c.at_name()) c.fail("expected a metric name");
      metric = c.name();
    }
    terms_.emplace_back(sign * coef, metric);
    c.skip();
    if (c.i == text_.size()) break;
    if (c.take('+'))
      sign = 1.0;
    else if (c.take('-'))
      sign = -1.0;
    else
      c.fail("expected '+' or '-'");
  }
}

double SelectionFormula::evaluate(const std::map<std::string, double>& metrics) const {
  double score = 0.0;
  for (const auto& [coef, name] : terms_) {
    auto it = metrics.find(name);
    if (it == metrics.end()) {
      std::string have;
      for (const auto& [k, v] : metrics) have += (have.empty() ? "" : ", ") + k;
      throw std::invalid_argument("selection formula '" + text_ + "' uses metric '" + name +
                                  "', which validation does not report (it reports: " + have + ")");
    }
    score += coef * it->second;
  }
  return score;
}

}  // namespace emrrg::train
