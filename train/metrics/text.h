// String operations with the exact semantics of the Python (and Java) calls the reference
// scorers and cleaners use: str.split(), str.split(" "), str.strip(), str.replace(), numpy's
// mean. Inputs are valid UTF-8.
#pragma once
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace emrrg::metrics {

// Python's str.isspace() for one code point.
bool is_python_space(char32_t cp);

// Python's str.split() with no argument: runs of whitespace separate, no empty tokens.
std::vector<std::string> split_whitespace(std::string_view text);
// Python's str.split(" "): every single space separates, so "a  b" gives "a", "", "b" and
// "" gives one empty token.
std::vector<std::string> split_on_space(std::string_view text);
// Python's str.split(sep) for a non-empty separator.
std::vector<std::string> split_on(std::string_view text, std::string_view sep);
// Python's str.strip() with no argument.
std::string strip(std::string_view text);
// str.replace(from, to): every non-overlapping occurrence, left to right.
std::string replace_all(std::string_view text, std::string_view from, std::string_view to);
// Lower-casing as Python's str.lower() and Java's String.toLowerCase() do it, for ASCII,
// Latin-1, Latin Extended-A, Greek and Cyrillic letters (other scripts are left unchanged;
// Greek final sigma is not special-cased).
char32_t lower_code_point(char32_t cp);
std::string to_lower(std::string_view text);

// numpy.mean of a float64 vector: numpy's pairwise summation, then one division. Empty
// input gives NaN, as numpy does.
double numpy_mean(std::span<const double> values);

}  // namespace emrrg::metrics
