#pragma once
// Robust statistics shared by the symptom detectors: medians, MAD, quantiles, Theil–Sen slope,
// Mann–Kendall trend test, rolling medians, and small helpers over a RunRecord. Pure, no torch.
//
// Every function tolerates empty input: statistics of an empty sample are NaN.

#include <cstdint>
#include <string>
#include <vector>

#include "lossdoctor/finding.hpp"
#include "lossdoctor/run_record.hpp"
#include "lossdoctor/spec/kinds.hpp"

namespace lossdoctor::diagnose::series {

/// Median of `values` (NaN when empty). Non-finite values are not removed: filter first.
double median(std::vector<double> values);

/// The q-quantile (0 ≤ q ≤ 1) with linear interpolation (NaN when empty).
double quantile(std::vector<double> values, double q);

/// Median absolute deviation scaled by 1.4826, so it estimates σ for Gaussian noise.
double mad(const std::vector<double>& values);

/// Arithmetic mean (NaN when empty).
double mean(const std::vector<double>& values);

/// Theil–Sen slope of y against x: the median of pairwise slopes (NaN with fewer than 2 points).
/// Series longer than 400 points are subsampled evenly (cost stays bounded).
double theil_sen_slope(const std::vector<double>& x, const std::vector<double>& y);

/// Mann–Kendall trend statistic as a z score (continuity corrected, no tie correction):
/// > 0 for a rising series, about N(0, 1) for a series without trend. 0 for fewer than 3 points.
/// Series longer than 400 points are subsampled evenly.
double mann_kendall_z(const std::vector<double>& y);

/// Centred rolling median with an odd `window` (shrinks at the ends).
std::vector<double> rolling_median(const std::vector<double>& y, int window);

/// A series of (step, value) pairs.
struct Series {
  std::vector<int64_t> step;
  std::vector<double> value;
  size_t size() const { return value.size(); }
  bool empty() const { return value.empty(); }
};

/// The finite losses of the run; when `prefix_only`, stops at the first non-finite loss.
Series finite_losses(const RunRecord& record, bool prefix_only);

/// ln K when the loss is a classification loss (cross_entropy / nll) and K ≥ 2, NaN otherwise.
double chance_loss(const RunRecord& record);

/// Share of the distance from chance (1/K) to perfect (1) that a validation accuracy must clear
/// to count as above chance.
inline constexpr double kValAccuracyMargin = 0.1;

/// The validation accuracy below which a K-class classifier is still at chance:
/// 1/K + kValAccuracyMargin × (1 − 1/K) (K = 10: 19%; K = 4: 32.5%; K = 2: 55%). NaN for K < 2.
double chance_accuracy_bar(int64_t num_classes);

/// True when `accuracy` is finite and below chance_accuracy_bar(num_classes); false for K < 2 or
/// a missing (NaN) accuracy. The one test of "validation at chance" the detectors, the early
/// stop and the log reader share.
bool accuracy_at_chance(double accuracy, int64_t num_classes);

/// Median of the first `count` finite losses (NaN when there are none).
double initial_loss(const Series& losses, size_t count = 3);

/// Number formatted with 3 significant digits ("2.31", "41.7", "0.000123", "1.2e+06").
std::string num(double value);

/// Fraction formatted as a percentage ("92%").
std::string pct(double fraction);

/// Clamps to [lo, hi]; NaN maps to lo.
double clamp(double value, double lo, double hi);

/// A layer kind that carries a weight matrix the detectors reason about (conv2d, dense).
bool is_weight_layer(const std::string& kind);

/// Activation families come from the one table of kinds (spec/kinds.hpp).
using spec::is_relu_family;
using spec::is_saturating;

/// Shared by dead_units and saturated_units: a per-layer fraction that stays above a threshold
/// over consecutive probes.
struct PersistentFraction {
  std::string id;
  std::string what;  ///< "dead" / "saturated"
  double threshold = 0.5;
  size_t min_consecutive = 3;
  bool (*applies)(const std::string& kind) = nullptr;
  double (*fraction)(const LayerSample&) = nullptr;
};

/// One symptom naming the worst layer (highest median fraction over its longest streak),
/// evidence listing every flagged layer; empty when no layer persists above the threshold.
std::vector<Symptom> persistent_fraction(const RunRecord& r, const PersistentFraction& c);

}  // namespace lossdoctor::diagnose::series
