// batch_label_runs: batches are dominated by one class far more than random sampling allows
// (data sorted or grouped by label, shuffling off).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/series.hpp"

namespace lossdoctor::diagnose {

namespace {
/// At least this many batches with a label histogram.
constexpr size_t kMinBatches = 20;
/// Fires when the mean majority-class fraction per batch is at least kMinRatio × its expectation
/// under random sampling ...
constexpr double kMinRatio = 1.5;
/// ... and exceeds it by at least kMinExcess (absolute fraction of the batch).
constexpr double kMinExcess = 0.2;
/// Monte-Carlo draws used to compute the expectation (fixed seed: deterministic).
constexpr int kDraws = 400;
constexpr uint64_t kSeed = 0x5eed;

/// E[max_c n_c / b] for n ~ Multinomial(b, p), estimated by simulation.
double expected_majority(const std::vector<double>& p, int64_t b) {
  std::mt19937_64 rng(kSeed);
  std::discrete_distribution<size_t> pick(p.begin(), p.end());
  std::vector<int64_t> counts(p.size());
  double sum = 0;
  for (int d = 0; d < kDraws; ++d) {
    std::fill(counts.begin(), counts.end(), 0);
    for (int64_t i = 0; i < b; ++i) ++counts[pick(rng)];
    sum += static_cast<double>(*std::max_element(counts.begin(), counts.end())) /
           static_cast<double>(b);
  }
  return sum / kDraws;
}
}  // namespace

std::vector<Symptom> detect_batch_label_runs(const RunRecord& r) {
  using namespace series;
  // Overall class frequencies over the recorded batches.
  std::vector<double> totals;
  size_t batches = 0;
  for (const auto& st : r.steps) {
    const auto& h = st.label_histogram;
    const int64_t b = std::accumulate(h.begin(), h.end(), int64_t{0});
    if (b <= 0) continue;
    if (totals.size() < h.size()) totals.resize(h.size(), 0.0);
    for (size_t c = 0; c < h.size(); ++c)
      totals[c] += static_cast<double>(std::max<int64_t>(h[c], 0));
    ++batches;
  }
  if (batches < kMinBatches) return {};
  const double all = std::accumulate(totals.begin(), totals.end(), 0.0);
  if (all <= 0) return {};
  std::vector<double> p(totals.size());
  for (size_t c = 0; c < p.size(); ++c) p[c] = totals[c] / all;

  std::map<int64_t, double> expected_by_size;
  double observed_sum = 0, expected_sum = 0;
  int64_t first = -1;
  size_t longest = 0, run = 0;
  int64_t run_class = -1, longest_class = -1;
  for (const auto& st : r.steps) {
    const auto& h = st.label_histogram;
    const int64_t b = std::accumulate(h.begin(), h.end(), int64_t{0});
    if (b <= 0) continue;
    auto it = expected_by_size.find(b);
    if (it == expected_by_size.end())
      it = expected_by_size.emplace(b, expected_majority(p, b)).first;
    const auto top = std::max_element(h.begin(), h.end());
    const double frac = static_cast<double>(*top) / static_cast<double>(b);
    observed_sum += frac;
    expected_sum += it->second;
    if (first < 0 && frac >= it->second + kMinExcess) first = st.step;
    // Runs of consecutive batches whose majority (> half the batch) is the same class.
    const int64_t cls = frac > 0.5 ? static_cast<int64_t>(top - h.begin()) : -1;
    run = (cls >= 0 && cls == run_class) ? run + 1 : (cls >= 0 ? 1 : 0);
    run_class = cls;
    if (run > longest) {
      longest = run;
      longest_class = cls;
    }
  }
  const double observed = observed_sum / static_cast<double>(batches);
  const double expected = expected_sum / static_cast<double>(batches);
  if (!(expected > 0)) return {};
  const double ratio = observed / expected;
  if (ratio < kMinRatio || observed - expected < kMinExcess) return {};

  Symptom s;
  s.id = "batch_label_runs";
  s.step = first >= 0 ? first : r.steps.front().step;
  s.value = ratio;
  // Severity: how much of the gap to "every batch is one class" is realised.
  s.severity = clamp((observed - expected) / std::max(1.0 - expected, 1e-9), 0.2, 1.0);
  s.evidence.push_back(fmt::format(
      "the largest class fills {} of a batch on average vs {} expected from random sampling of "
      "the observed class frequencies ({}× , {} batches)",
      pct(observed), pct(expected), num(ratio), batches));
  if (longest >= 2) {
    s.evidence.push_back(
        fmt::format("class {} was the majority of {} consecutive batches", longest_class, longest));
  }
  return {s};
}

}  // namespace lossdoctor::diagnose
