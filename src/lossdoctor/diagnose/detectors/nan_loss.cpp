// nan_loss: the loss became NaN or Inf.
#include <fmt/format.h>

#include <cmath>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/series.hpp"

namespace lossdoctor::diagnose {

namespace {
/// A single non-finite loss is already fatal, so no minimum run length applies (a run that turns
/// NaN is usually stopped early). Severity starts here and grows with the non-finite fraction.
constexpr double kBaseSeverity = 0.8;
}  // namespace

std::vector<Symptom> detect_nan_loss(const RunRecord& r) {
  using namespace series;
  int64_t first = -1;
  size_t first_index = 0, nonfinite = 0;
  for (size_t i = 0; i < r.steps.size(); ++i) {
    if (std::isfinite(r.steps[i].loss)) continue;
    if (nonfinite == 0) {
      first = r.steps[i].step;
      first_index = i;
    }
    ++nonfinite;
  }
  if (nonfinite == 0) return {};

  Symptom s;
  s.id = "nan_loss";
  s.step = first;
  const double frac = static_cast<double>(nonfinite) / static_cast<double>(r.steps.size());
  s.value = frac;
  s.severity = clamp(kBaseSeverity + (1 - kBaseSeverity) * frac, 0, 1);

  const double bad = r.steps[first_index].loss;
  std::string line = fmt::format("loss is {} at step {}", num(bad), first);
  if (first_index > 0) {
    const double before = r.steps[first_index - 1].loss;
    line += fmt::format(" (was {} at step {})", num(before), r.steps[first_index - 1].step);
  }
  s.evidence.push_back(line);
  s.evidence.push_back(
      fmt::format("{} of {} recorded steps have a non-finite loss", nonfinite, r.steps.size()));
  if (r.first_nonfinite && r.first_nonfinite->step <= first) {
    const auto& o = *r.first_nonfinite;
    if (o.layer != "loss") s.layer = o.layer;
    s.evidence.push_back(fmt::format("first non-finite value at step {} in {} ({})", o.step,
                                     o.layer.empty() ? "unknown" : o.layer,
                                     o.in_backward ? "gradient" : "forward output"));
  }
  if (first_index > 0) {
    const double gn = r.steps[first_index - 1].grad_norm;
    if (std::isfinite(gn) && gn > 0) {
      s.evidence.push_back(fmt::format("gradient norm {} on the step before", num(gn)));
    }
  }
  return {s};
}

}  // namespace lossdoctor::diagnose
