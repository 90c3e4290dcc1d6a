#include "lossdoctor/util/number.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <limits>

namespace lossdoctor {

std::optional<double> parse_number(const std::string& text) {
  static const std::array<const char*, 6> pos_inf = {".inf",  ".Inf",  ".INF",
                                                     "+.inf", "+.Inf", "+.INF"};
  static const std::array<const char*, 3> neg_inf = {"-.inf", "-.Inf", "-.INF"};
  static const std::array<const char*, 3> nan = {".nan", ".NaN", ".NAN"};
  const auto is = [&](const auto& spellings) {
    return std::any_of(spellings.begin(), spellings.end(),
                       [&](const char* s) { return text == s; });
  };
  if (is(pos_inf)) return std::numeric_limits<double>::infinity();
  if (is(neg_inf)) return -std::numeric_limits<double>::infinity();
  if (is(nan)) return std::numeric_limits<double>::quiet_NaN();
  if (text.empty() || std::isspace(static_cast<unsigned char>(text.front()))) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return v;
}

}  // namespace lossdoctor
