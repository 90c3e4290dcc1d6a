// split_stats_mismatch: training and validation data reach the model with different per-channel
// statistics (prepared differently).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/series.hpp"

namespace lossdoctor::diagnose {

namespace {
/// A channel mismatches when |mean_val − mean_train| > kMaxMeanShift × std_train ...
constexpr double kMaxMeanShift = 0.5;
/// ... or std_val / std_train lies outside [1 / kMaxStdRatio, kMaxStdRatio].
constexpr double kMaxStdRatio = 2.0;
/// Standard deviations at or below this count as zero (constant channel).
constexpr double kTinyStd = 1e-12;
}  // namespace

std::vector<Symptom> detect_split_stats_mismatch(const RunRecord& r) {
  using namespace series;
  if (!r.train_stats || !r.val_stats) return {};
  const auto& t = *r.train_stats;
  const auto& v = *r.val_stats;
  const size_t c = std::min(
      {t.channel_mean.size(), t.channel_std.size(), v.channel_mean.size(), v.channel_std.size()});
  if (c == 0) return {};

  // Per channel, the excess factor: how many times past its threshold (> 1: mismatch).
  double worst = 0;
  size_t worst_c = 0;
  std::vector<std::string> lines;
  for (size_t k = 0; k < c; ++k) {
    const double mt = t.channel_mean[k], mv = v.channel_mean[k];
    const double st = t.channel_std[k], sv = v.channel_std[k];
    if (!std::isfinite(mt) || !std::isfinite(mv) || !std::isfinite(st) || !std::isfinite(sv)) {
      continue;
    }
    double mean_excess = 0, std_excess = 0;
    if (st > kTinyStd) {
      mean_excess = std::abs(mv - mt) / (kMaxMeanShift * st);
    } else if (std::abs(mv - mt) > kTinyStd) {
      mean_excess = INFINITY;
    }
    if (st > kTinyStd && sv > kTinyStd) {
      const double ratio = sv / st;
      std_excess = std::max(ratio, 1 / ratio) / kMaxStdRatio;
    } else if ((st > kTinyStd) != (sv > kTinyStd)) {
      std_excess = INFINITY;
    }
    const double excess = std::max(mean_excess, std_excess);
    if (!(excess > 1)) continue;
    lines.push_back(fmt::format(
        "channel {}: train mean {} std {}, validation mean {} std {} (Δmean = {} train std, std "
        "ratio {})",
        k, num(mt), num(st), num(mv), num(sv),
        st > kTinyStd ? num(std::abs(mv - mt) / st) : std::string("∞"),
        st > kTinyStd ? num(sv / st) : std::string("∞")));
    if (excess > worst) {
      worst = excess;
      worst_c = k;
    }
  }
  if (lines.empty()) return {};

  Symptom s;
  s.id = "split_stats_mismatch";
  s.step = -1;
  s.value = std::isfinite(worst) ? worst : 1e6;
  s.severity = clamp(0.3 + 0.7 * std::log10(s.value), 0.3, 1.0);
  s.evidence.push_back(fmt::format(
      "{} of {} channels differ between train and validation (thresholds: |Δmean| > {} train std, "
      "std ratio outside [{}, {}]); worst: channel {}",
      lines.size(), c, num(kMaxMeanShift), num(1 / kMaxStdRatio), num(kMaxStdRatio), worst_c));
  for (size_t i = 0; i < lines.size() && i < 4; ++i) s.evidence.push_back(lines[i]);
  s.evidence.push_back(fmt::format("range: train [{}, {}], validation [{}, {}]", num(t.min),
                                   num(t.max), num(v.min), num(v.max)));
  return {s};
}

}  // namespace lossdoctor::diagnose
