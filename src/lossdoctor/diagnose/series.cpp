#include "lossdoctor/diagnose/series.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace lossdoctor::diagnose::series {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kMadToSigma = 1.4826;
/// Pairwise statistics (Theil–Sen, Mann–Kendall) subsample longer series to this many points.
constexpr size_t kMaxPairPoints = 400;
}  // namespace

double median(std::vector<double> values) {
  if (values.empty()) return kNaN;
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid), values.end());
  const double upper = values[mid];
  if (values.size() % 2 == 1) return upper;
  const double lower =
      *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid));
  return 0.5 * (lower + upper);
}

double quantile(std::vector<double> values, double q) {
  if (values.empty()) return kNaN;
  std::sort(values.begin(), values.end());
  const double pos = clamp(q, 0.0, 1.0) * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return values[lo] + frac * (values[hi] - values[lo]);
}

double mad(const std::vector<double>& values) {
  if (values.empty()) return kNaN;
  const double m = median(values);
  std::vector<double> dev;
  dev.reserve(values.size());
  for (double v : values) dev.push_back(std::abs(v - m));
  return kMadToSigma * median(std::move(dev));
}

double mean(const std::vector<double>& values) {
  if (values.empty()) return kNaN;
  double sum = 0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

double theil_sen_slope(const std::vector<double>& x_in, const std::vector<double>& y_in) {
  if (std::min(x_in.size(), y_in.size()) > kMaxPairPoints) {
    // Long series: evenly spaced points keep the cost O(kMaxPairPoints²).
    const size_t n_in = std::min(x_in.size(), y_in.size());
    std::vector<double> xs, ys;
    for (size_t k = 0; k < kMaxPairPoints; ++k) {
      const size_t i = k * (n_in - 1) / (kMaxPairPoints - 1);
      xs.push_back(x_in[i]);
      ys.push_back(y_in[i]);
    }
    return theil_sen_slope(xs, ys);
  }
  const auto& x = x_in;
  const auto& y = y_in;
  const size_t n = std::min(x.size(), y.size());
  if (n < 2) return kNaN;
  std::vector<double> slopes;
  slopes.reserve(n * (n - 1) / 2);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      const double dx = x[j] - x[i];
      if (dx != 0) slopes.push_back((y[j] - y[i]) / dx);
    }
  }
  return median(std::move(slopes));
}

double mann_kendall_z(const std::vector<double>& y_in) {
  if (y_in.size() > kMaxPairPoints) {
    std::vector<double> ys;
    for (size_t k = 0; k < kMaxPairPoints; ++k) {
      ys.push_back(y_in[k * (y_in.size() - 1) / (kMaxPairPoints - 1)]);
    }
    return mann_kendall_z(ys);
  }
  const auto& y = y_in;
  const size_t n = y.size();
  if (n < 3) return 0;
  double s = 0;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      if (y[j] > y[i]) s += 1;
      if (y[j] < y[i]) s -= 1;
    }
  }
  const double nd = static_cast<double>(n);
  const double var = nd * (nd - 1) * (2 * nd + 5) / 18.0;
  if (s > 0) return (s - 1) / std::sqrt(var);
  if (s < 0) return (s + 1) / std::sqrt(var);
  return 0;
}

std::vector<double> rolling_median(const std::vector<double>& y, int window) {
  const int half = std::max(0, window / 2);
  std::vector<double> out(y.size());
  std::vector<double> buf;
  for (size_t i = 0; i < y.size(); ++i) {
    const size_t lo = i >= static_cast<size_t>(half) ? i - static_cast<size_t>(half) : 0;
    const size_t hi = std::min(y.size(), i + static_cast<size_t>(half) + 1);
    buf.assign(y.begin() + static_cast<std::ptrdiff_t>(lo),
               y.begin() + static_cast<std::ptrdiff_t>(hi));
    out[i] = median(buf);
  }
  return out;
}

Series finite_losses(const RunRecord& record, bool prefix_only) {
  Series s;
  for (const auto& st : record.steps) {
    if (!std::isfinite(st.loss)) {
      if (prefix_only) break;
      continue;
    }
    s.step.push_back(st.step);
    s.value.push_back(st.loss);
  }
  return s;
}

double chance_loss(const RunRecord& record) {
  if ((record.loss == "cross_entropy" || record.loss == "nll") && record.num_classes >= 2) {
    return std::log(static_cast<double>(record.num_classes));
  }
  return kNaN;
}

double chance_accuracy_bar(int64_t num_classes) {
  if (num_classes < 2) return kNaN;
  const double k = static_cast<double>(num_classes);
  return 1.0 / k + kValAccuracyMargin * (1.0 - 1.0 / k);
}

bool accuracy_at_chance(double accuracy, int64_t num_classes) {
  const double bar = chance_accuracy_bar(num_classes);
  return std::isfinite(bar) && std::isfinite(accuracy) && accuracy < bar;
}

double initial_loss(const Series& losses, size_t count) {
  if (losses.empty()) return kNaN;
  const size_t n = std::min(count, losses.size());
  return median(std::vector<double>(losses.value.begin(),
                                    losses.value.begin() + static_cast<std::ptrdiff_t>(n)));
}

std::string num(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Inf" : "-Inf";
  return fmt::format("{:.3g}", value);
}

std::string pct(double fraction) { return fmt::format("{:.0f}%", 100.0 * fraction); }

double clamp(double value, double lo, double hi) {
  if (std::isnan(value)) return lo;
  return std::min(hi, std::max(lo, value));
}

bool is_weight_layer(const std::string& kind) { return kind == "conv2d" || kind == "dense"; }

std::vector<Symptom> persistent_fraction(const RunRecord& r, const PersistentFraction& c) {
  struct Flag {
    size_t layer;
    int64_t first_step;
    size_t streak;
    double median_fraction, last_fraction;
  };
  std::vector<Flag> flags;
  for (size_t l = 0; l < r.layers.size(); ++l) {
    if (!c.applies(r.layers[l].kind)) continue;
    size_t run = 0, best_run = 0, best_end = 0, probes = 0;
    std::vector<double> all;
    for (size_t p = 0; p < r.probes.size(); ++p) {
      if (r.probes[p].layers.size() <= l) {
        run = 0;
        continue;
      }
      ++probes;
      const double f = c.fraction(r.probes[p].layers[l]);
      all.push_back(f);
      run = f > c.threshold ? run + 1 : 0;
      if (run > best_run) {
        best_run = run;
        best_end = p;
      }
    }
    if (best_run < c.min_consecutive) continue;
    std::vector<double> streak;
    for (size_t p = best_end + 1 - best_run; p <= best_end; ++p) {
      streak.push_back(c.fraction(r.probes[p].layers[l]));
    }
    flags.push_back({l, r.probes[best_end + 1 - best_run].step, best_run, median(streak),
                     all.empty() ? 0.0 : all.back()});
  }
  if (flags.empty()) return {};
  const auto worst = std::max_element(flags.begin(), flags.end(), [](const Flag& a, const Flag& b) {
    return a.median_fraction < b.median_fraction;
  });
  int64_t first = worst->first_step;
  for (const auto& f : flags) first = std::min(first, f.first_step);

  Symptom s;
  s.id = c.id;
  s.layer = r.layers[worst->layer].name;
  s.step = first;
  s.value = worst->median_fraction;
  s.severity = clamp((worst->median_fraction - c.threshold) / (1 - c.threshold), 0.1, 1.0);
  s.evidence.push_back(
      fmt::format("{} of {} {} layers have more than {} {} units for at least {} "
                  "consecutive probes",
                  flags.size(),
                  std::count_if(r.layers.begin(), r.layers.end(),
                                [&](const auto& d) { return c.applies(d.kind); }),
                  r.layers[worst->layer].kind, pct(c.threshold), c.what, c.min_consecutive));
  for (size_t i = 0; i < flags.size() && i < 6; ++i) {
    const auto& f = flags[i];
    s.evidence.push_back(fmt::format("{}: {} {} over {} probes from step {} (last probe {})",
                                     r.layers[f.layer].name, pct(f.median_fraction), c.what,
                                     f.streak, f.first_step, pct(f.last_fraction)));
  }
  return {s};
}

}  // namespace lossdoctor::diagnose::series
