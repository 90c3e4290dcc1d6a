// loss_spikes: isolated jumps of the loss far above its local level that come back down.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/series.hpp"

namespace lossdoctor::diagnose {

namespace {
constexpr size_t kMinSteps = 20;
/// Local window: this many finite steps either side of the candidate (the candidate excluded).
constexpr size_t kHalfWindow = 25;
/// A spike exceeds the local median by kMadK robust standard deviations (1.4826 · MAD) ...
constexpr double kMadK = 6.0;
/// ... and by at least this fraction of the local median (guards against a tiny MAD).
constexpr double kMinRelJump = 0.25;
/// ... and by at least this fraction of the reference scale (ln K for classification, else the
/// initial loss): near-zero losses jitter by large factors without meaning anything.
constexpr double kMinAbsJump = 0.05;
/// Steps just before the jump (up to this many) must sit at a normal level (below median + k·σ/2):
/// a spike jumps up from the curve, it is not the tail of a steep descent.
constexpr size_t kLeadSteps = 3;
/// The loss must come back: the median of the next kRecoverSteps steps below median + k·σ/2.
constexpr size_t kRecoverSteps = 5;
/// Fires with at least kMinSpikes spikes, or one spike at least kBigSpikeRatio × its local median
/// that also jumps by at least kBigSpikeAbs × the reference scale.
constexpr size_t kMinSpikes = 2;
constexpr double kBigSpikeRatio = 3.0;
constexpr double kBigSpikeAbs = 0.25;
/// Severity reaches 1 at this many spikes.
constexpr double kSpikesForFullSeverity = 10.0;
}  // namespace

std::vector<Symptom> detect_loss_spikes(const RunRecord& r) {
  using namespace series;
  if (r.steps.size() < kMinSteps) return {};
  const Series loss = finite_losses(r, /*prefix_only=*/false);
  const size_t n = loss.size();
  if (n < kMinSteps) return {};
  const double chance = chance_loss(r);
  const double scale = std::isfinite(chance) ? chance : std::abs(initial_loss(loss));

  struct Spike {
    size_t index;
    double height, local;
  };
  std::vector<Spike> spikes;
  std::vector<double> buf;
  for (size_t i = 0; i + kRecoverSteps < n; ++i) {
    const size_t lo = i >= kHalfWindow ? i - kHalfWindow : 0;
    const size_t hi = std::min(n, i + kHalfWindow + 1);
    buf.clear();
    for (size_t j = lo; j < hi; ++j) {
      if (j != i) buf.push_back(loss.value[j]);
    }
    const double m = median(buf);
    const double sigma = mad(buf);
    const double bar =
        m + std::max({kMadK * sigma, kMinRelJump * std::abs(m), kMinAbsJump * scale});
    if (!(loss.value[i] > bar)) continue;
    const double half_bar = m + 0.5 * (bar - m);
    // Jumps up from a normal level.
    if (i == 0) continue;
    bool lead_ok = true;
    for (size_t k = 1; k <= kLeadSteps && k <= i; ++k) {
      if (loss.value[i - k] > half_bar) {
        // Consecutive spike steps are merged into the first one.
        lead_ok = false;
        break;
      }
    }
    if (!lead_ok) continue;
    // ... and comes back down.
    size_t after = i + 1;
    while (after < n && loss.value[after] > bar) ++after;  // spike may last a few steps
    if (after + kRecoverSteps > n || after - i > kLeadSteps) continue;
    std::vector<double> next(
        loss.value.begin() + static_cast<std::ptrdiff_t>(after),
        loss.value.begin() + static_cast<std::ptrdiff_t>(after + kRecoverSteps));
    if (median(next) > half_bar) continue;
    spikes.push_back({i, loss.value[i], m});
  }
  if (spikes.empty()) return {};
  double max_ratio = 0;
  size_t worst = 0;
  bool big = false;
  for (size_t k = 0; k < spikes.size(); ++k) {
    const double ratio = spikes[k].height / std::max(std::abs(spikes[k].local), 1e-12);
    if (ratio > max_ratio) {
      max_ratio = ratio;
      worst = k;
    }
    if (ratio >= kBigSpikeRatio && spikes[k].height - spikes[k].local >= kBigSpikeAbs * scale) {
      big = true;
    }
  }
  if (spikes.size() < kMinSpikes && !big) return {};

  Symptom s;
  s.id = "loss_spikes";
  s.step = loss.step[spikes.front().index];
  s.value = static_cast<double>(spikes.size());
  s.severity = clamp(static_cast<double>(spikes.size()) / kSpikesForFullSeverity +
                         0.5 * std::log10(std::max(max_ratio, 1.0)),
                     0.1, 1.0);
  s.evidence.push_back(fmt::format("{} spike{} above the local median + {}·MAD over {} steps",
                                   spikes.size(), spikes.size() == 1 ? "" : "s", num(kMadK), n));
  const auto& w = spikes[worst];
  s.evidence.push_back(fmt::format("largest: loss {} at step {} against a local median of {} ({}×)",
                                   num(w.height), loss.step[w.index], num(w.local),
                                   num(max_ratio)));
  std::string where = "spike steps:";
  for (size_t k = 0; k < spikes.size() && k < 10; ++k) {
    where += fmt::format(" {}", loss.step[spikes[k].index]);
  }
  if (spikes.size() > 10) where += " …";
  s.evidence.push_back(where);
  return {s};
}

}  // namespace lossdoctor::diagnose
