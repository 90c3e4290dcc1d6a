// bad_initial_loss: a classifier's first losses are far from ln K, the loss of an untrained
// network whose outputs are near uniform.
#include <fmt/format.h>

#include <cmath>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/series.hpp"

namespace lossdoctor::diagnose {

namespace {
/// Initial loss: the loss of the first step, the only one computed before any update (a large
/// learning rate can multiply the loss 100× by the second step: that is not an init problem).
/// A NaN at the very start is nan_loss's business. Short runs are judged too.
constexpr size_t kHeadSteps = 1;
/// Fires when initial > kHighFactor × ln K or initial < kLowFactor × ln K.
constexpr double kHighFactor = 3.0;
constexpr double kLowFactor = 0.3;
/// A batch this small gives a one-step loss too noisy for the factors above: widen them.
constexpr int64_t kSmallBatch = 8;
constexpr double kSmallBatchHighFactor = 6.0;
constexpr double kSmallBatchLowFactor = 0.1;
}  // namespace

std::vector<Symptom> detect_bad_initial_loss(const RunRecord& r) {
  using namespace series;
  const double chance = chance_loss(r);
  if (!std::isfinite(chance) || r.steps.size() < kHeadSteps) return {};
  // Only step 0 comes before any update: a record that starts later (a log written every N
  // steps, or one row per epoch) does not show the initial loss.
  if (r.steps.front().step != 0) return {};
  std::vector<double> head;
  for (size_t i = 0; i < kHeadSteps; ++i) {
    if (!std::isfinite(r.steps[i].loss)) return {};
    head.push_back(r.steps[i].loss);
  }
  const double init = median(head);
  const bool small_batch = r.batch_size > 0 && r.batch_size < kSmallBatch;
  const double high_factor = small_batch ? kSmallBatchHighFactor : kHighFactor;
  const double low_factor = small_batch ? kSmallBatchLowFactor : kLowFactor;
  const bool high = init > high_factor * chance;
  const bool low = init < low_factor * chance;
  if (!high && !low) return {};

  Symptom s;
  s.id = "bad_initial_loss";
  s.step = r.steps.front().step;
  s.value = init;
  const double ratio = init / chance;
  if (high) {
    // 3× → 0.4, 30× → 1.
    s.severity = clamp(0.4 + 0.6 * std::log10(ratio / high_factor), 0.4, 1.0);
  } else {
    s.severity = clamp(0.4 + 0.6 * (low_factor - ratio) / low_factor, 0.4, 1.0);
  }
  s.evidence.push_back(
      fmt::format("initial loss {} (step {}, before any update) vs ln {} = {} for a "
                  "uniform prediction: {}× chance",
                  num(init), r.steps.front().step, r.num_classes, num(chance), num(ratio)));
  s.evidence.push_back(
      high ? fmt::format("above {}× ln K: overconfident initial outputs", num(high_factor))
           : fmt::format("below {}× ln K: too low for an untrained network", num(low_factor)));
  return {s};
}

}  // namespace lossdoctor::diagnose
