// slow_convergence: the loss falls, but too little over the run (and it is not simply stuck at
// chance or diverging, which have their own symptoms).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/series.hpp"

namespace lossdoctor::diagnose {

namespace {
/// The run must be at least this long to call its progress slow.
constexpr size_t kMinSteps = 100;
/// Initial loss: median of the first kHeadSteps finite losses.
constexpr size_t kHeadSteps = 5;
/// Final loss: median of the last kTailFraction of the run (at least kMinTail steps).
constexpr double kTailFraction = 0.1;
constexpr size_t kMinTail = 10;
/// Fires when the relative drop (initial − final) / initial is below this ...
constexpr double kMinDrop = 0.10;
/// ... and above this (a larger rise is diverging_loss's business).
constexpr double kMaxRise = -0.05;
}  // namespace

std::vector<Symptom> detect_slow_convergence(const RunRecord& r) {
  using namespace series;
  const Series loss = finite_losses(r, /*prefix_only=*/true);
  const size_t n = loss.size();
  if (n < kMinSteps) return {};
  const double init = initial_loss(loss, kHeadSteps);
  if (!(init > 1e-6)) return {};
  const size_t tail =
      std::max(kMinTail, static_cast<size_t>(kTailFraction * static_cast<double>(n)));
  const double final_loss = median(
      std::vector<double>(loss.value.end() - static_cast<std::ptrdiff_t>(tail), loss.value.end()));
  const double drop = (init - final_loss) / init;
  if (drop >= kMinDrop || drop < kMaxRise) return {};
  // Stuck at chance and diverging are reported by their own detectors.
  if (!detect_plateau_at_chance(r).empty() || !detect_diverging_loss(r).empty()) return {};

  std::vector<double> x(loss.step.begin(), loss.step.end());
  const double slope = theil_sen_slope(x, loss.value);

  Symptom s;
  s.id = "slow_convergence";
  s.step = loss.step.front();
  s.value = drop;
  s.severity = clamp(1.0 - std::max(drop, 0.0) / kMinDrop, 0.2, 1.0);
  s.evidence.push_back(fmt::format("loss {} → {} over steps {}–{}: {} lower (threshold {})",
                                   num(init), num(final_loss), loss.step.front(), loss.step.back(),
                                   pct(drop), pct(kMinDrop)));
  if (std::isfinite(slope)) {
    s.evidence.push_back(fmt::format("Theil–Sen slope {:+.3g}/step", slope));
  }
  const double chance = chance_loss(r);
  if (std::isfinite(chance)) {
    s.evidence.push_back(fmt::format("chance ln {} = {} (final loss {}× chance)", r.num_classes,
                                     num(chance), num(final_loss / chance)));
  }
  return {s};
}

}  // namespace lossdoctor::diagnose
