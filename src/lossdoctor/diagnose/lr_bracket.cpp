#include "lossdoctor/diagnose/lr_bracket.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "lossdoctor/diagnose/diagnoser.hpp"
#include "lossdoctor/spec/kinds.hpp"

namespace lossdoctor::diagnose {

std::vector<Finding> lr_bracket_findings(const RunRecord& record, double factor,
                                         const std::vector<Finding>& screened) {
  if (!(factor > 1)) throw std::invalid_argument("lr_bracket_findings: factor must exceed 1");
  std::vector<Finding> out;
  const auto& table = spec::all_optimizer_traits();
  const bool known = std::any_of(table.begin(), table.end(),
                                 [&](const auto& t) { return t.name == record.optimizer; });
  if (!known || !(record.base_lr > 0)) return out;
  const auto raised = [&](const std::string& cause) {
    return std::any_of(screened.begin(), screened.end(),
                       [&](const Finding& f) { return f.cause == cause; });
  };
  const auto bracket = [&](const std::string& cause, double lr, const std::string& how,
                           const char* which) {
    if (raised(cause)) return;
    Finding f;
    f.cause = cause;
    f.confidence = 0;
    f.explanation = explain_cause(cause);
    f.fix["optimizer.lr"] = fmt::format("{:.3g}", lr);
    f.evidence.push_back(fmt::format(
        "learning-rate bracket: the run looks healthy and no signal points at its rate; a rerun "
        "at lr {:.3g} ({}) tests whether a {} rate trains better",
        lr, how, which));
    f.severity = "";
    out.push_back(std::move(f));
  };
  const std::string base = fmt::format("{:.3g}", record.base_lr);
  bracket("lr_too_low", record.base_lr * factor, fmt::format("{:.3g}× the spec's {}", factor, base),
          "higher");
  bracket("lr_too_high", record.base_lr / factor,
          fmt::format("the spec's {} ÷ {:.3g}", base, factor), "lower");
  return out;
}

}  // namespace lossdoctor::diagnose
