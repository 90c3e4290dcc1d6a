// exploding_gradient: the global gradient norm grows by orders of magnitude or turns non-finite.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/series.hpp"

namespace lossdoctor::diagnose {

namespace {
constexpr size_t kMinSteps = 20;
/// Early reference: median grad norm of the first max(kEarlyMin, run / kEarlyDivisor) steps.
constexpr size_t kEarlyMin = 5;
constexpr size_t kEarlyDivisor = 20;
/// Fires when the rolling median (kSmoothWindow steps) of the grad norm exceeds kGrowth × early.
constexpr double kGrowth = 100.0;
constexpr int kSmoothWindow = 5;
/// Severity: log10(growth) / kDecadesForFullSeverity.
constexpr double kDecadesForFullSeverity = 4.0;
}  // namespace

std::vector<Symptom> detect_exploding_gradient(const RunRecord& r) {
  using namespace series;
  if (r.steps.size() < kMinSteps) return {};
  // A gradient norm that is NaN at every step was never measured (a curve read from a log).
  if (std::all_of(r.steps.begin(), r.steps.end(),
                  [](const StepSample& st) { return std::isnan(st.grad_norm); })) {
    return {};
  }
  std::vector<double> g;
  std::vector<int64_t> step;
  int64_t first_nonfinite = -1;
  for (const auto& st : r.steps) {
    if (!std::isfinite(st.grad_norm)) {
      first_nonfinite = st.step;
      break;
    }
    g.push_back(st.grad_norm);
    step.push_back(st.step);
  }
  const size_t early_n = std::max(kEarlyMin, r.steps.size() / kEarlyDivisor);
  if (g.size() < early_n && first_nonfinite < 0) return {};
  const double early =
      g.size() >= early_n
          ? median(std::vector<double>(g.begin(), g.begin() + static_cast<std::ptrdiff_t>(early_n)))
          : (g.empty() ? 0.0 : median(g));

  int64_t first = -1;
  double peak = 0;
  if (early > 0) {
    const std::vector<double> smooth = rolling_median(g, kSmoothWindow);
    for (size_t i = 0; i < g.size(); ++i) {
      if (smooth[i] > kGrowth * early && first < 0) first = step[i];
      peak = std::max(peak, smooth[i]);
    }
  }
  if (first < 0 && first_nonfinite < 0) return {};

  Symptom s;
  s.id = "exploding_gradient";
  s.step = first >= 0 ? first : first_nonfinite;
  const double growth = early > 0 ? peak / early : 0;
  s.value = growth;  // growth before any non-finite gradient (the evidence says when it broke)
  s.severity =
      first_nonfinite >= 0 ? 1.0 : clamp(std::log10(growth) / kDecadesForFullSeverity, 0.5, 1.0);
  if (first >= 0) {
    s.evidence.push_back(fmt::format("gradient norm {} → {} ({}× its early median) from step {}",
                                     num(early), num(peak), num(growth), first));
  }
  if (first_nonfinite >= 0) {
    s.evidence.push_back(fmt::format("gradient norm non-finite at step {}", first_nonfinite));
  }

  // Layer: the origin of a non-finite gradient, else the largest layer gradient at the first
  // probe at or after the onset (the last probe before it when none follows).
  if (r.first_nonfinite && r.first_nonfinite->in_backward && first_nonfinite >= 0) {
    s.layer = r.first_nonfinite->layer;
  } else if (!r.probes.empty()) {
    const LayerProbe* probe = &r.probes.back();
    for (const auto& p : r.probes) {
      if (p.step >= s.step) {
        probe = &p;
        break;
      }
    }
    double best = -1;
    const size_t m = std::min(probe->layers.size(), r.layers.size());
    for (size_t l = 0; l < m; ++l) {
      const double gn = probe->layers[l].grad_norm;
      if (std::isfinite(gn) && gn > best &&
          (r.layers[l].has_weights || probe->layers[l].has_weights)) {
        best = gn;
        s.layer = r.layers[l].name;
      }
    }
    if (best > 0) {
      s.evidence.push_back(fmt::format("largest layer gradient at step {}: {} in {}", probe->step,
                                       num(best), s.layer));
    } else {
      s.layer.clear();
    }
  }
  return {s};
}

}  // namespace lossdoctor::diagnose
