// update_ratio_out_of_range: a weight layer's relative update |Δw|/|w| per step is far from the
// usual ~1e-3: too large (the step overshoots) or too small (the layer barely learns).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/series.hpp"

namespace lossdoctor::diagnose {

namespace {
/// At least this many probes with a positive, finite update ratio for a layer.
constexpr size_t kMinProbes = 3;
/// Healthy range of the per-layer median update ratio.
constexpr double kLow = 1e-5;
constexpr double kHigh = 1e-1;
/// Severity: 0.3 at the bound, +0.7 per kDecadesForFullSeverity decades beyond it.
constexpr double kDecadesForFullSeverity = 2.0;
}  // namespace

std::vector<Symptom> detect_update_ratio_out_of_range(const RunRecord& r) {
  using namespace series;
  struct Flag {
    size_t layer;
    double median_ratio, decades;
    int64_t first_step;
    size_t probes;
  };
  std::vector<Flag> flags;
  for (size_t l = 0; l < r.layers.size(); ++l) {
    if (!is_weight_layer(r.layers[l].kind)) continue;
    std::vector<double> ratios;
    std::vector<int64_t> steps;
    for (const auto& p : r.probes) {
      if (p.layers.size() <= l) continue;
      const double u = p.layers[l].update_ratio;
      // Exact zeros (weights not moving, or not recorded) are unchanged_weights' business.
      if (!std::isfinite(u) || u <= 0) continue;
      ratios.push_back(u);
      steps.push_back(p.step);
    }
    if (ratios.size() < kMinProbes) continue;
    const double med = median(ratios);
    if (med >= kLow && med <= kHigh) continue;
    const bool high = med > kHigh;
    int64_t first = steps.front();
    for (size_t j = 0; j < ratios.size(); ++j) {
      if (high ? ratios[j] > kHigh : ratios[j] < kLow) {
        first = steps[j];
        break;
      }
    }
    const double decades = high ? std::log10(med / kHigh) : std::log10(kLow / med);
    flags.push_back({l, med, decades, first, ratios.size()});
  }
  if (flags.empty()) return {};
  const auto worst = std::max_element(flags.begin(), flags.end(), [](const Flag& a, const Flag& b) {
    return a.decades < b.decades;
  });
  int64_t first = worst->first_step;
  for (const auto& f : flags) first = std::min(first, f.first_step);

  Symptom s;
  s.id = "update_ratio_out_of_range";
  s.layer = r.layers[worst->layer].name;
  s.step = first;
  s.value = worst->median_ratio;
  s.severity = clamp(0.3 + 0.7 * worst->decades / kDecadesForFullSeverity, 0.3, 1.0);
  for (size_t i = 0; i < flags.size() && i < 8; ++i) {
    const auto& f = flags[i];
    s.evidence.push_back(fmt::format(
        "{}: median update ratio |Δw|/|w| {} over {} probes — {} (healthy {}–{}, typical ~1e-3)",
        r.layers[f.layer].name, num(f.median_ratio), f.probes,
        f.median_ratio > kHigh ? "too large" : "too small", num(kLow), num(kHigh)));
  }
  if (flags.size() > 8) s.evidence.push_back(fmt::format("… and {} more layers", flags.size() - 8));
  return {s};
}

bool update_ratio_too_large(const Symptom& update_ratio_out_of_range) {
  return update_ratio_out_of_range.value > kHigh;
}

}  // namespace lossdoctor::diagnose
