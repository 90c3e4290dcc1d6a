// plateau_at_chance: a classifier's loss stays at ln K, the loss of a uniform guess.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/series.hpp"

namespace lossdoctor::diagnose {

namespace {
/// Steps at the start that are not judged (the loss may still be leaving its initial value) ...
constexpr size_t kSkipSteps = 50;
/// ... at most this fraction of the run, so short runs keep something to judge.
constexpr double kMaxSkipFraction = 0.25;
/// At least this many steps must remain after the skip.
constexpr size_t kMinJudged = 30;
/// Band around ln K, relative: [1 − kBand, 1 + kBand] × ln K.
constexpr double kBand = 0.10;
/// Fraction of judged steps whose smoothed loss lies in the band.
constexpr double kMinInBand = 0.8;
/// Rolling-median window used to smooth the loss.
constexpr int kSmoothWindow = 9;
}  // namespace

std::vector<Symptom> detect_plateau_at_chance(const RunRecord& r) {
  using namespace series;
  const double chance = chance_loss(r);
  if (!std::isfinite(chance)) return {};
  const Series loss = finite_losses(r, /*prefix_only=*/false);
  const size_t n = loss.size();
  const size_t skip =
      std::min(kSkipSteps, static_cast<size_t>(kMaxSkipFraction * static_cast<double>(n)));
  if (n < skip + kMinJudged) return {};

  const std::vector<double> smooth = rolling_median(loss.value, kSmoothWindow);
  size_t in_band = 0;
  int64_t first = -1;
  std::vector<double> judged;
  for (size_t i = skip; i < n; ++i) {
    judged.push_back(loss.value[i]);
    if (std::abs(smooth[i] - chance) <= kBand * chance) {
      ++in_band;
      if (first < 0) first = loss.step[i];
    }
  }
  const double frac = static_cast<double>(in_band) / static_cast<double>(judged.size());
  if (frac < kMinInBand) return {};

  Symptom s;
  s.id = "plateau_at_chance";
  s.step = first;
  s.value = mean(judged);
  s.severity = clamp(0.5 + 0.5 * (frac - kMinInBand) / (1 - kMinInBand), 0.5, 1.0);
  s.evidence.push_back(fmt::format(
      "loss {} ± {} over steps {}–{}, chance ln {} = {}: within ±{} of it for {} of the steps",
      num(s.value), num(mad(judged)), loss.step[skip], loss.step[n - 1], r.num_classes, num(chance),
      pct(kBand), pct(frac)));
  std::vector<double> acc;
  for (const auto& st : r.steps) {
    if (st.step >= loss.step[skip] && std::isfinite(st.batch_accuracy)) {
      acc.push_back(st.batch_accuracy);
    }
  }
  const double mean_acc = mean(acc);
  if (std::isfinite(mean_acc) && mean_acc > 0) {
    s.evidence.push_back(fmt::format("batch accuracy {} (chance {})", num(mean_acc),
                                     num(1.0 / static_cast<double>(r.num_classes))));
  }
  return {s};
}

}  // namespace lossdoctor::diagnose
