// bad_initial_loss: a classifier's first losses are far from ln K, the loss of an untrained
// network whose outputs are near uniform.
#include <fmt/format.h>

#include <cmath>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/series.hpp"

namespace lossdoctor::diagnose {

namespace {
/// Initial loss: median of the first kHeadSteps recorded steps (all must exist and be finite;
/// a NaN at the very start is nan_loss's business). Short runs are judged too: only the head
/// matters.
constexpr size_t kHeadSteps = 3;
/// Fires when initial > kHighFactor × ln K or initial < kLowFactor × ln K.
constexpr double kHighFactor = 3.0;
constexpr double kLowFactor = 0.3;
}  // namespace

std::vector<Symptom> detect_bad_initial_loss(const RunRecord& r) {
  using namespace series;
  const double chance = chance_loss(r);
  if (!std::isfinite(chance) || r.steps.size() < kHeadSteps) return {};
  std::vector<double> head;
  for (size_t i = 0; i < kHeadSteps; ++i) {
    if (!std::isfinite(r.steps[i].loss)) return {};
    head.push_back(r.steps[i].loss);
  }
  const double init = median(head);
  const bool high = init > kHighFactor * chance;
  const bool low = init < kLowFactor * chance;
  if (!high && !low) return {};

  Symptom s;
  s.id = "bad_initial_loss";
  s.step = r.steps.front().step;
  s.value = init;
  const double ratio = init / chance;
  if (high) {
    // 3× → 0.4, 30× → 1.
    s.severity = clamp(0.4 + 0.6 * std::log10(ratio / kHighFactor), 0.4, 1.0);
  } else {
    s.severity = clamp(0.4 + 0.6 * (kLowFactor - ratio) / kLowFactor, 0.4, 1.0);
  }
  s.evidence.push_back(
      fmt::format("initial loss {} (median of steps {}–{}) vs ln {} = {} for a "
                  "uniform prediction: {}× chance",
                  num(init), r.steps.front().step, r.steps[kHeadSteps - 1].step, r.num_classes,
                  num(chance), num(ratio)));
  s.evidence.push_back(
      high ? fmt::format("above {}× ln K: overconfident initial outputs", num(kHighFactor))
           : fmt::format("below {}× ln K: too low for an untrained network", num(kLowFactor)));
  return {s};
}

}  // namespace lossdoctor::diagnose
