// overfitting: validation loss rises over epochs while training loss keeps falling (a note, not a
// training fault).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/series.hpp"

namespace lossdoctor::diagnose {

namespace {
/// At least this many epochs with finite train and validation loss.
constexpr size_t kMinEpochs = 3;
/// Validation loss must rise for at least this many consecutive epochs after its minimum ...
constexpr size_t kMinRisingEpochs = 2;
/// ... ending at least kMinRelRise above its minimum ...
constexpr double kMinRelRise = 0.02;
/// Severity reaches 1 when the validation loss is this fraction above its minimum.
constexpr double kRelRiseForFullSeverity = 0.5;
}  // namespace

std::vector<Symptom> detect_overfitting(const RunRecord& r) {
  using namespace series;
  std::vector<const EpochSample*> e;
  for (const auto& ep : r.epochs) {
    if (std::isfinite(ep.train_loss) && std::isfinite(ep.val_loss)) e.push_back(&ep);
  }
  if (e.size() < kMinEpochs) return {};
  size_t best = 0;
  for (size_t i = 1; i < e.size(); ++i) {
    if (e[i]->val_loss < e[best]->val_loss) best = i;
  }
  const size_t last = e.size() - 1;
  if (last - best < kMinRisingEpochs) return {};
  // Consecutive rises somewhere after the minimum.
  size_t run = 0, longest = 0;
  for (size_t i = best + 1; i <= last; ++i) {
    run = e[i]->val_loss > e[i - 1]->val_loss ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  const double vmin = e[best]->val_loss, vlast = e[last]->val_loss;
  const double rel_rise = (vlast - vmin) / std::max(std::abs(vmin), 1e-12);
  const double gap_then = e[best]->val_loss - e[best]->train_loss;
  const double gap_now = vlast - e[last]->train_loss;
  if (longest < kMinRisingEpochs || rel_rise < kMinRelRise) return {};
  if (!(e[last]->train_loss < e[best]->train_loss) || !(gap_now > gap_then)) return {};

  Symptom s;
  s.id = "overfitting";
  s.step = e[best + 1]->step;
  s.value = gap_now;
  s.severity = clamp(rel_rise / kRelRiseForFullSeverity, 0.1, 1.0);
  s.evidence.push_back(fmt::format(
      "validation loss {} → {} over epochs {}–{} ({} rising) while "
      "training loss fell {} → {}",
      num(vmin), num(vlast), e[best]->epoch, e[last]->epoch,
      longest >= 2 ? fmt::format("{} consecutive epochs", longest) : std::string("steadily"),
      num(e[best]->train_loss), num(e[last]->train_loss)));
  s.evidence.push_back(
      fmt::format("generalisation gap (val − train loss) {} → {}", num(gap_then), num(gap_now)));
  if (e[last]->val_accuracy > 0 || e[best]->val_accuracy > 0) {
    s.evidence.push_back(fmt::format("validation accuracy {} at the best epoch, {} at the last",
                                     num(e[best]->val_accuracy), num(e[last]->val_accuracy)));
  }
  return {s};
}

}  // namespace lossdoctor::diagnose
