// vanishing_gradient: the early weight layers receive relative gradients orders of magnitude
// smaller than the last weight layer.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/series.hpp"

namespace lossdoctor::diagnose {

namespace {
/// At least this many probes with usable gradients.
constexpr size_t kMinProbes = 3;
/// A layer vanishes when its relative gradient (|∇W| / |W|) is below kRatio × that of the last
/// weight layer ...
constexpr double kRatio = 1e-3;
/// ... in at least this fraction of the usable probes (and its median ratio is below kRatio).
constexpr double kMinProbeFraction = 0.5;
/// Severity: 0.3 at the threshold, +0.7 per kDecadesForFullSeverity decades below it.
constexpr double kDecadesForFullSeverity = 3.0;

/// |∇W| / |W|, or |∇W| when the weight norm is not positive (zero-initialised layer).
double relative_grad(const LayerSample& l) {
  return l.weight_norm > 0 ? l.grad_norm / l.weight_norm : l.grad_norm;
}
}  // namespace

std::vector<Symptom> detect_vanishing_gradient(const RunRecord& r) {
  using namespace series;
  std::vector<size_t> weight_layers;
  for (size_t l = 0; l < r.layers.size(); ++l) {
    if (is_weight_layer(r.layers[l].kind)) weight_layers.push_back(l);
  }
  if (weight_layers.size() < 2) return {};
  const size_t last = weight_layers.back();

  // ratios[k]: per usable probe, relative gradient of weight_layers[k] / that of the last layer.
  std::vector<std::vector<double>> ratios(weight_layers.size() - 1);
  std::vector<std::vector<int64_t>> steps(weight_layers.size() - 1);
  size_t usable = 0;
  for (const auto& p : r.probes) {
    if (p.layers.size() <= last) continue;
    const double ref = relative_grad(p.layers[last]);
    if (!std::isfinite(ref) || ref <= 0) continue;
    bool ok = true;
    for (size_t k = 0; k + 1 < weight_layers.size(); ++k) {
      if (!std::isfinite(relative_grad(p.layers[weight_layers[k]]))) ok = false;
    }
    if (!ok) continue;
    ++usable;
    for (size_t k = 0; k + 1 < weight_layers.size(); ++k) {
      ratios[k].push_back(relative_grad(p.layers[weight_layers[k]]) / ref);
      steps[k].push_back(p.step);
    }
  }
  if (usable < kMinProbes) return {};

  struct Flag {
    size_t k;
    double median_ratio;
    double frac;
    int64_t first_step;
  };
  std::vector<Flag> flags;
  for (size_t k = 0; k + 1 < weight_layers.size(); ++k) {
    size_t below = 0;
    int64_t first = -1;
    for (size_t j = 0; j < ratios[k].size(); ++j) {
      if (ratios[k][j] < kRatio) {
        ++below;
        if (first < 0) first = steps[k][j];
      }
    }
    const double frac = static_cast<double>(below) / static_cast<double>(ratios[k].size());
    const double med = median(ratios[k]);
    if (frac >= kMinProbeFraction && med < kRatio) flags.push_back({k, med, frac, first});
  }
  if (flags.empty()) return {};

  const Flag& f = flags.front();  // the earliest vanishing layer
  double worst = f.median_ratio;
  for (const auto& g : flags) worst = std::min(worst, g.median_ratio);
  Symptom s;
  s.id = "vanishing_gradient";
  s.layer = r.layers[weight_layers[f.k]].name;
  s.step = f.first_step;
  s.value = f.median_ratio;
  const double decades = std::log10(kRatio / std::max(worst, 1e-300));
  s.severity = clamp(0.3 + 0.7 * decades / kDecadesForFullSeverity, 0.3, 1.0);
  s.evidence.push_back(fmt::format(
      "{} of {} earlier weight layers get relative gradients |∇W|/|W| below {} × the last weight "
      "layer ({}) over {} probes",
      flags.size(), weight_layers.size() - 1, num(kRatio), r.layers[last].name, usable));
  for (size_t i = 0; i < flags.size() && i < 6; ++i) {
    const auto& g = flags[i];
    s.evidence.push_back(
        fmt::format("{}: median ratio {} to the last layer (below in {} of probes)",
                    r.layers[weight_layers[g.k]].name, num(g.median_ratio), pct(g.frac)));
  }
  return {s};
}

}  // namespace lossdoctor::diagnose
