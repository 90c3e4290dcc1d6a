#include "lossdoctor/diagnose/verdict.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace lossdoctor::diagnose {

const std::vector<std::string>& hard_symptom_ids() {
  static const std::vector<std::string> ids = {"nan_loss", "diverging_loss", "plateau_at_chance"};
  return ids;
}

int64_t early_stop_min_steps(const std::string& top, const std::vector<Symptom>& symptoms,
                             int64_t min_steps, int64_t healthy_min_steps) {
  bool at_chance = false, other_hard = false;
  for (const auto& s : symptoms) {
    at_chance |= s.id == "plateau_at_chance";
    other_hard |= s.id != "plateau_at_chance" && is_hard_symptom(s.id);
  }
  // At chance, only the end of the budget tells a plateau from a slow start (session 9: a
  // healthy batch-8 run stopped at step 250 of 300, right as it left chance).
  if (at_chance && !other_hard) return std::numeric_limits<int64_t>::max();
  return top == "healthy" ? healthy_min_steps : min_steps;
}

bool is_hard_symptom(const std::string& id) {
  const auto& ids = hard_symptom_ids();
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

Verdict decide_verdict(const std::vector<Finding>& findings, const std::vector<Symptom>& symptoms,
                       const VerdictOptions& o) {
  Verdict v;
  for (const auto& s : symptoms) {
    if (!is_hard_symptom(s.id)) continue;
    v.verdict = "unhealthy";
    v.hard_symptom = true;
    v.reason = fmt::format("hard symptom {}{}: a run showing it is never healthy", s.id,
                           s.step >= 0 ? fmt::format(" (from step {})", s.step) : "");
    return v;
  }
  for (const auto& f : findings) {
    if (f.cause == "healthy") continue;
    if (f.status == "confirmed") {
      v.verdict = "unhealthy";
      v.reason = fmt::format("{} was confirmed by its rerun", f.cause);
      return v;
    }
  }
  for (const auto& f : findings) {
    if (f.cause == "healthy" || f.status != "suspected") continue;
    if (f.confidence >= o.unhealthy_confidence) {
      v.verdict = "unhealthy";
      v.reason =
          fmt::format("{} is suspected with confidence {:.2f} (≥ {:.2f}) and was not refuted",
                      f.cause, f.confidence, o.unhealthy_confidence);
      return v;
    }
  }
  const auto refuted = std::count_if(findings.begin(), findings.end(),
                                     [](const Finding& f) { return f.status == "refuted"; });
  v.reason = refuted > 0 ? fmt::format(
                               "every suspicion strong enough to matter was refuted by its "
                               "rerun ({}), and no hard symptom",
                               refuted)
                         : "no finding reaches the confidence needed, and no hard symptom";
  return v;
}

}  // namespace lossdoctor::diagnose
