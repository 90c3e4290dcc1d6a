// noisy_gradient: the gradient-noise scale B_noise is far above the batch size, so each step
// follows mostly noise (McCandlish et al., "An Empirical Model of Large-Batch Training").
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/series.hpp"

namespace lossdoctor::diagnose {

namespace {
/// At least this many usable noise samples.
constexpr size_t kMinSamples = 3;
/// Fires when the median B_noise / B exceeds this.
constexpr double kMaxNoiseToBatch = 50.0;
/// Severity: 0.3 at the threshold, 1 at kFullSeverityFactor × the threshold (log scale).
constexpr double kFullSeverityFactor = 20.0;
/// B_noise / B when the mean-gradient estimate vanishes (pure noise).
constexpr double kNoiseCap = kMaxNoiseToBatch * kFullSeverityFactor;
}  // namespace

std::vector<Symptom> detect_noisy_gradient(const RunRecord& r) {
  using namespace series;
  if (r.batch_size <= 0) return {};
  const double b = static_cast<double>(r.batch_size);
  std::vector<double> ratios;
  std::vector<int64_t> steps;
  for (const auto& n : r.noise) {
    if (!std::isfinite(n.mean_sq_grad_norm) || !std::isfinite(n.sq_mean_grad_norm) ||
        n.mean_sq_grad_norm <= 0) {
      continue;
    }
    // B_noise = B · (E|g_B|² − |E g_B|²) / |E g_B|²; B_noise / B drops the B. The |E g_B|²
    // estimate (a mean of products of consecutive gradients) is ≤ 0 when noise swamps the
    // signal: count that as the noisiest ratio we report.
    const double ratio = n.sq_mean_grad_norm <= 0
                             ? kNoiseCap
                             : (n.mean_sq_grad_norm - n.sq_mean_grad_norm) / n.sq_mean_grad_norm;
    ratios.push_back(std::clamp(ratio, 0.0, kNoiseCap));
    steps.push_back(n.step);
  }
  if (ratios.size() < kMinSamples) return {};
  const double med = median(ratios);
  if (med <= kMaxNoiseToBatch) return {};
  int64_t first = steps.front();
  for (size_t i = 0; i < ratios.size(); ++i) {
    if (ratios[i] > kMaxNoiseToBatch) {
      first = steps[i];
      break;
    }
  }
  Symptom s;
  s.id = "noisy_gradient";
  s.step = first;
  s.value = med;
  s.severity = clamp(
      0.3 + 0.7 * std::log10(med / kMaxNoiseToBatch) / std::log10(kFullSeverityFactor), 0.3, 1.0);
  s.evidence.push_back(
      fmt::format("gradient noise scale B_noise ≈ {} (median of {} samples) vs "
                  "batch size {}: {}× the batch (threshold {}×)",
                  num(med * b), ratios.size(), r.batch_size, num(med), num(kMaxNoiseToBatch)));
  s.evidence.push_back(fmt::format("B_noise / B ranges {}–{} over steps {}–{}",
                                   num(quantile(ratios, 0)), num(quantile(ratios, 1)),
                                   steps.front(), steps.back()));
  return {s};
}

}  // namespace lossdoctor::diagnose
