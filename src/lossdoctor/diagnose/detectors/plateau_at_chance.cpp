// plateau_at_chance: a classifier's training loss stays at ln K, the loss of a uniform guess, or
// its validation accuracy (or loss) is still at chance for its K classes, 1/K (ln K), when the
// run has had time to learn. Every threshold follows K: nothing assumes 10 classes.
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
/// Validation is judged only once the run has taken this many steps (a slow start, such as a
/// long warmup, is not a fault) ...
constexpr int64_t kMinValidationStep = 150;
/// ... and counts as "at chance" when its accuracy is below series::chance_accuracy_bar(K)
/// (K = 10: below 19%; K = 4: below 32.5%; K = 2: below 55%) ...
/// ... or, for losses with a chance level, when its loss is at or above (1 − kBand) × ln K.

/// The validation records at or after kMinValidationStep, all at chance; empty when any is not.
std::vector<Symptom> validation_at_chance(const RunRecord& r, double chance_loss) {
  using namespace series;
  if (r.num_classes < 2 || r.epochs.empty()) return {};
  const EpochSample& last = r.epochs.back();
  if (last.step < kMinValidationStep) return {};
  const double k = static_cast<double>(r.num_classes);
  const double acc_bar = chance_accuracy_bar(r.num_classes);
  const auto at_chance = [&](const EpochSample& e) {
    const bool acc = accuracy_at_chance(e.val_accuracy, r.num_classes);
    const bool loss = std::isfinite(chance_loss) && std::isfinite(e.val_loss) &&
                      e.val_loss >= (1 - kBand) * chance_loss;
    return acc || (loss && !(e.val_accuracy >= acc_bar + 0.1));
  };
  for (const auto& e : r.epochs)
    if (e.step >= kMinValidationStep && !at_chance(e)) return {};
  Symptom s;
  s.id = "plateau_at_chance";
  s.step = last.step;
  s.value = last.val_accuracy;
  s.severity = clamp(1.0 - (last.val_accuracy - 1.0 / k) / (acc_bar - 1.0 / k), 0.5, 1.0);
  s.evidence.push_back(fmt::format(
      "validation accuracy {} after {} steps: chance for {} classes is 1/{} = {} (at chance below "
      "{})",
      pct(last.val_accuracy), last.step, r.num_classes, r.num_classes, pct(1.0 / k), pct(acc_bar)));
  if (std::isfinite(chance_loss) && std::isfinite(last.val_loss)) {
    s.evidence.push_back(fmt::format("validation loss {} (chance ln {} = {})", num(last.val_loss),
                                     r.num_classes, num(chance_loss)));
  }
  return {s};
}
}  // namespace

std::vector<Symptom> detect_plateau_at_chance(const RunRecord& r) {
  using namespace series;
  const double chance = chance_loss(r);
  if (!std::isfinite(chance)) return validation_at_chance(r, chance);
  const Series loss = finite_losses(r, /*prefix_only=*/false);
  const size_t n = loss.size();
  const size_t skip =
      std::min(kSkipSteps, static_cast<size_t>(kMaxSkipFraction * static_cast<double>(n)));
  if (n < skip + kMinJudged) return validation_at_chance(r, chance);

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
  if (frac < kMinInBand) return validation_at_chance(r, chance);

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
