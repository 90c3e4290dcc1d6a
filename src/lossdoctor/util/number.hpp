#pragma once
// One strict reader of decimal numbers for every place that turns text into a double: spec
// values, override values (--set, an arm's fix), report fields and CLI options. No torch.

#include <optional>
#include <string>

namespace lossdoctor {

/// The number `text` spells, or nothing when any of it is not part of the number.
/// Contract: accepts what std::strtod accepts over the whole string (no leading or trailing
/// blank, no trailing characters) plus YAML's spellings of infinity and NaN (.inf, +.inf,
/// -.inf, .nan in lower, title or upper case); an empty string is not a number. Never throws.
std::optional<double> parse_number(const std::string& text);

}  // namespace lossdoctor
