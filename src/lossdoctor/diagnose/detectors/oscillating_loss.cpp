// oscillating_loss: the loss swings up and down by about its own level without descending.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/series.hpp"

namespace lossdoctor::diagnose {

namespace {
constexpr size_t kMinSteps = 40;
/// Window length = run length / kWindowDivisor clamped to [kWindowMin, kWindowMax]; windows
/// advance by half their length.
constexpr size_t kWindowDivisor = 4;
constexpr size_t kWindowMin = 20;
constexpr size_t kWindowMax = 100;
/// Robust swing: (q90 − q10) / level, level = (q10 + q90) / 2 (robust to a bimodal loss that
/// jumps between two values), must reach this ...
constexpr double kMinRelSwing = 1.0;
/// ... and (q90 − q10) must exceed this fraction of the reference scale (ln K for classification,
/// else the initial loss), so a converged loss jittering near zero does not count.
constexpr double kMinAbsSwing = 0.1;
/// Trending windows are not oscillations:
///  - descending at a coarse scale: the window's level is more than kMaxDescent below the
///    previous window's level;
///  - one-way within the window: of the window's high points (above its upper quartile), fewer
///    than kMinLateHigh or more than 1 − kMinLateHigh lie in its second half (a decay has its high
///    points early, a rise late; an oscillation keeps coming back up).
constexpr double kMaxDescent = 0.1;
constexpr double kMinLateHigh = 0.2;
/// Upper/lower quantiles used for the swing.
constexpr double kLowQ = 0.1, kHighQ = 0.9;
}  // namespace

std::vector<Symptom> detect_oscillating_loss(const RunRecord& r) {
  using namespace series;
  if (r.steps.size() < kMinSteps) return {};
  const Series loss = finite_losses(r, /*prefix_only=*/true);
  const size_t n = loss.size();
  if (n < kMinSteps) return {};
  const double chance = chance_loss(r);
  const double init = initial_loss(loss);
  const double scale = std::isfinite(chance) ? chance : std::abs(init);
  if (!(scale > 0)) return {};

  const size_t w = std::clamp(n / kWindowDivisor, kWindowMin, kWindowMax);
  struct Hit {
    size_t begin, end;
    double swing, rel, med;
  };
  std::vector<Hit> hits;
  double prev_med = NAN;
  for (size_t b = 0; b + w <= n; b += std::max<size_t>(1, w / 2)) {
    std::vector<double> y;
    for (size_t i = b; i < b + w; ++i) {
      y.push_back(loss.value[i]);
    }
    const double lo = quantile(y, kLowQ), hi = quantile(y, kHighQ);
    const double med = 0.5 * (lo + hi);  // the window's level
    const double before = prev_med;
    prev_med = med;
    if (!(med > 0)) continue;
    const double swing = hi - lo;
    if (swing < kMinRelSwing * med || swing < kMinAbsSwing * scale) continue;
    if (std::isfinite(before) && med < (1 - kMaxDescent) * before) continue;
    const double q75 = quantile(y, 0.75);
    size_t high = 0, late = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      if (y[i] <= q75) continue;
      ++high;
      if (2 * i >= y.size()) ++late;
    }
    const double late_frac = high > 0 ? static_cast<double>(late) / static_cast<double>(high) : 0.5;
    if (late_frac < kMinLateHigh || late_frac > 1 - kMinLateHigh) continue;
    hits.push_back({b, b + w - 1, swing, swing / med, med});
  }
  if (hits.empty()) return {};

  const auto worst = std::max_element(hits.begin(), hits.end(),
                                      [](const Hit& a, const Hit& b) { return a.rel < b.rel; });
  Symptom s;
  s.id = "oscillating_loss";
  s.step = loss.step[hits.front().begin];
  s.value = worst->rel;
  s.severity = clamp(0.3 + 0.7 * (worst->rel - kMinRelSwing) / (2 * kMinRelSwing), 0.3, 1.0);
  s.evidence.push_back(fmt::format(
      "loss swings over {} (q10–q90) around a level of {} in steps {}–{} ({}× its level)",
      num(worst->swing), num(worst->med), loss.step[worst->begin], loss.step[worst->end],
      num(worst->rel)));
  s.evidence.push_back(fmt::format("{} of {} windows of {} steps oscillate without descending",
                                   hits.size(), (n - w) / std::max<size_t>(1, w / 2) + 1, w));
  return {s};
}

}  // namespace lossdoctor::diagnose
