
#include "lossdoctor/experiment/lr_find.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "lossdoctor/util/clock.hpp"
#include "lossdoctor/util/errors.hpp"

namespace lossdoctor::experiment {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
/// Fewest points after the skipped start a suggestion can be read from: one full fit window
/// plus a sustained descent.
int64_t min_analysed_points(const LrSuggestOptions& o) {
  return 2 * std::max<int64_t>(1, o.half_window) + std::max<int64_t>(1, o.sustain_points) + 1;
}
/// Half-width of the running median that removes single- and two-point spikes and dips.
constexpr int64_t kMedianHalfWidth = 2;
/// Scale from the median absolute deviation to a normal standard deviation.
constexpr double kMadToSigma = 1.4826;

std::string num(double v) { return fmt::format("{:.3g}", v); }

double median(std::vector<double> v) {
  if (v.empty()) return kNaN;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  if (v.size() % 2 == 1) return v[mid];
  const double upper = v[mid];
  return (*std::max_element(v.begin(), v.begin() + mid) + upper) / 2;
}

nlohmann::json opt_json(const std::optional<double>& v) {
  return v && std::isfinite(*v) ? nlohmann::json(*v) : nlohmann::json();
}

nlohmann::json finite_json(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
}

/// Watches the sweep: records each step's loss and ends the run once the loss diverges.
class SweepObserver : public train::TrainObserver {
 public:
  SweepObserver(const LrFindOptions& options, LrFindResult& result)
      : check_(options.smoothing, options.diverge_factor, options.suggest.skip_start),
        result_(result) {}

  void after_step(train::Trainer&, const train::StepView& view) override {
    const int64_t step = static_cast<int64_t>(result_.points.size());
    const bool stop = check_.add(view.loss);
    result_.points.push_back({view.lr, view.loss, check_.smoothed(), kNaN});
    if (stop && !stop_) {
      stop_ = true;
      result_.divergence_lr = view.lr;
      stop_evidence_ =
          fmt::format("stopped at step {} (lr {}): {}", step, num(view.lr), check_.why());
    }
  }

  bool should_stop(train::Trainer&) override { return stop_; }
  const std::string& stop_evidence() const { return stop_evidence_; }

 private:
  DivergenceCheck check_;
  LrFindResult& result_;
  bool stop_ = false;
  std::string stop_evidence_;
};

/// The override lr_fix returns, for a spec whose rate is `current_lr`.
std::map<std::string, std::string> fix_for(const LrFindResult& result, double current_lr) {
  if (!result.suggested_lr) return {};
  const double lr = *result.suggested_lr;
  // Within a factor of 3 the spec's rate is already as good as the range test can tell.
  if (current_lr > 0 && current_lr <= 3 * lr && current_lr >= lr / 3) return {};
  return {{"optimizer.lr", fmt::format("{:.2g}", lr)}};
}

void check_options(const LrFindOptions& o) {
  if (!(o.min_lr > 0) || !std::isfinite(o.min_lr)) {
    throw InputError(fmt::format("lr-find: --min-lr must be a positive number (got {})", o.min_lr));
  }
  if (!(o.max_lr > o.min_lr) || !std::isfinite(o.max_lr)) {
    throw InputError(fmt::format("lr-find: --max-lr must be larger than --min-lr {} (got {})",
                                 o.min_lr, o.max_lr));
  }
  if (o.suggest.skip_start < 0) {
    throw InputError(
        fmt::format("lr-find: --skip-start must be 0 or more (got {})", o.suggest.skip_start));
  }
  const int64_t min_points = min_analysed_points(o.suggest);
  if (o.steps < o.suggest.skip_start + min_points) {
    throw InputError(fmt::format(
        "lr-find: --steps must be at least --skip-start + {} = {} to read a suggestion (got {})",
        min_points, o.suggest.skip_start + min_points, o.steps));
  }
  if (!(o.smoothing > 0 && o.smoothing <= 1)) {
    throw InputError(fmt::format("lr-find: --smoothing must be in (0, 1] (got {})", o.smoothing));
  }
  if (!(o.diverge_factor > 1)) {
    throw InputError(
        fmt::format("lr-find: --diverge-factor must be above 1 (got {})", o.diverge_factor));
  }
}

}  // namespace

DivergenceCheck::DivergenceCheck(double smoothing, double diverge_factor, int64_t skip_start)
    : smoothing_(smoothing),
      diverge_factor_(diverge_factor),
      skip_start_(skip_start),
      best_(std::numeric_limits<double>::infinity()) {}

bool DivergenceCheck::add(double loss) {
  const int64_t i = count_++;
  if (!why_.empty()) return true;
  if (!std::isfinite(loss)) {
    smoothed_ = kNaN;
    why_ = fmt::format("the loss became {}", loss);
    return true;
  }
  average_ = (1 - smoothing_) * average_ + smoothing_ * loss;
  smoothed_ = average_ / (1 - std::pow(1 - smoothing_, static_cast<double>(i + 1)));
  last_.push_back(loss);
  if (last_.size() > 3) last_.erase(last_.begin());
  // The first points neither set the reference nor stop the sweep: an early spike is no
  // divergence, and the rates there are far too small to diverge.
  if (i < skip_start_) return false;
  best_ = std::min(best_, smoothed_);
  if (i == skip_start_) return false;
  const double recent = median(last_);  // a single bad batch lifts the EMA, not this
  const double limit = diverge_factor_ * best_;
  if (smoothed_ > limit && recent > limit) {
    why_ = fmt::format(
        "smoothed loss {} and the median of the last {} losses {} exceed {} × the best smoothed "
        "loss {}",
        num(smoothed_), last_.size(), num(recent), num(diverge_factor_), num(best_));
    return true;
  }
  return false;
}

double sweep_lr(double min_lr, double max_lr, int64_t steps, int64_t step) {
  if (steps <= 1) return min_lr;
  const double t = static_cast<double>(step) / static_cast<double>(steps - 1);
  return min_lr * std::pow(max_lr / min_lr, t);
}

std::vector<double> ema_bias_corrected(const std::vector<double>& values, double weight) {
  std::vector<double> out(values.size());
  double average = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    average = (1 - weight) * average + weight * values[i];
    out[i] = average / (1 - std::pow(1 - weight, static_cast<double>(i + 1)));
  }
  return out;
}

std::optional<double> naive_suggestion(const std::vector<double>& lrs,
                                       const std::vector<double>& losses, int64_t skip_begin,
                                       int64_t skip_end, double ema_beta) {
  const int64_t n = static_cast<int64_t>(std::min(lrs.size(), losses.size()));
  const std::vector<double> recorded =
      ema_beta > 0 ? ema_bias_corrected(losses, 1 - ema_beta) : losses;
  std::vector<double> kept_loss, kept_lr;
  for (int64_t i = std::max<int64_t>(0, skip_begin); i < n - std::max<int64_t>(0, skip_end); ++i) {
    if (std::isfinite(recorded[i])) {
      kept_loss.push_back(recorded[i]);
      kept_lr.push_back(lrs[i]);
    }
  }
  const size_t m = kept_loss.size();
  if (m < 2) return std::nullopt;
  // np.gradient with unit spacing: one-sided differences at the ends, central inside.
  size_t best = 0;
  double best_gradient = std::numeric_limits<double>::infinity();
  for (size_t k = 0; k < m; ++k) {
    const double g = k == 0       ? kept_loss[1] - kept_loss[0]
                     : k == m - 1 ? kept_loss[m - 1] - kept_loss[m - 2]
                                  : (kept_loss[k + 1] - kept_loss[k - 1]) / 2;
    if (g < best_gradient) {
      best_gradient = g;
      best = k;
    }
  }
  return kept_lr[best];
}

LrSuggestion suggest_lr(const std::vector<double>& lrs, const std::vector<double>& losses,
                        const LrSuggestOptions& options) {
  LrSuggestion out;
  const int64_t n = static_cast<int64_t>(std::min(lrs.size(), losses.size()));
  out.trend.assign(losses.size(), kNaN);
  out.slope.assign(losses.size(), kNaN);

  // Analysed range [first, end): after the skipped start, up to the first non-finite loss.
  const int64_t first = std::max<int64_t>(0, options.skip_start);
  int64_t end = 0;
  while (end < n && std::isfinite(losses[end]) && lrs[end] > 0 && std::isfinite(lrs[end])) ++end;
  const int64_t min_points = min_analysed_points(options);
  if (end - first < min_points) {
    out.reason = fmt::format(
        "no suggestion: only {} finite point{} after the first {} skipped; at least {} are needed",
        std::max<int64_t>(0, end - first), end - first == 1 ? "" : "s", first, min_points);
    return out;
  }

  std::vector<double> x(n), smooth(n, kNaN);
  for (int64_t i = 0; i < end; ++i) x[i] = std::log10(lrs[i]);
  // Running median first: single-batch spikes and dips vanish instead of bending the fit.
  std::vector<double> residuals;
  for (int64_t i = first; i < end; ++i) {
    std::vector<double> window;
    for (int64_t j = std::max(first, i - kMedianHalfWidth);
         j <= std::min(end - 1, i + kMedianHalfWidth); ++j) {
      window.push_back(losses[j]);
    }
    smooth[i] = median(window);
    residuals.push_back(std::abs(losses[i] - smooth[i]));
  }
  out.noise_sigma = kMadToSigma * median(residuals);

  // Centred local line fit against log10(lr): no lag, unlike the causal EMA.
  // Only where the window is complete: a fit extrapolated to the edge of its window is noisy.
  const int64_t h = std::max<int64_t>(1, options.half_window);
  const int64_t from = first + h, to = end - h;  // fitted points: [from, to)
  for (int64_t i = from; i < to; ++i) {
    const int64_t lo = i - h, hi = i + h;
    double mean_x = 0, mean_y = 0;
    for (int64_t j = lo; j <= hi; ++j) {
      mean_x += x[j];
      mean_y += smooth[j];
    }
    const double count = static_cast<double>(hi - lo + 1);
    mean_x /= count;
    mean_y /= count;
    double sxx = 0, sxy = 0;
    for (int64_t j = lo; j <= hi; ++j) {
      sxx += (x[j] - mean_x) * (x[j] - mean_x);
      sxy += (x[j] - mean_x) * (smooth[j] - mean_y);
    }
    const double slope = sxx > 0 ? sxy / sxx : 0;
    out.slope[i] = slope;
    out.trend[i] = mean_y + slope * (x[i] - mean_x);
  }

  // A descent is real when it is a clear fraction of the loss and well above the batch noise.
  const auto needed_drop = [&](double peak) {
    return std::max(options.min_relative_drop * std::abs(peak),
                    options.min_drop_noise_sigmas * out.noise_sigma);
  };
  // The minimum is the lowest trend before the loss first climbs clearly back up after a real
  // descent: past that point the weights are already damaged, and a later, luckier dip says
  // nothing about the rate. (Without a real descent first, a rise is just noise on a plateau.)
  int64_t best = from;
  double peak_before_best = out.trend[from];
  for (int64_t i = from; i < to; ++i) {
    if (out.trend[i] < out.trend[best]) {
      best = i;
    } else if (i > best) {
      const double descent = peak_before_best - out.trend[best];
      const double rise = out.trend[i] - out.trend[best];
      if (descent >= needed_drop(peak_before_best) &&
          rise > std::max(options.rise_noise_sigmas * out.noise_sigma,
                          options.rise_fraction * descent)) {
        out.rise_index = i;
        out.rise_lr = lrs[i];
        break;
      }
    }
    if (i <= best) peak_before_best = std::max(peak_before_best, out.trend[i]);
  }
  out.best_index = best;
  out.best_lr = lrs[best];

  // Sustained descent: windows of `sustain` consecutive points before the minimum whose
  // shallowest slope is still negative; the steepest such window wins.
  const int64_t sustain = std::max<int64_t>(1, options.sustain_points);
  int64_t window_start = -1;
  double window_slope = 0;  // shallowest slope inside the chosen window
  for (int64_t j = from; j + sustain - 1 <= best; ++j) {
    double shallowest = -std::numeric_limits<double>::infinity();
    for (int64_t k = j; k < j + sustain; ++k) shallowest = std::max(shallowest, out.slope[k]);
    if (shallowest < 0 && (window_start < 0 || shallowest < window_slope)) {
      window_start = j;
      window_slope = shallowest;
    }
  }
  if (window_start < 0) {
    out.reason = fmt::format(
        "no suggestion: the loss never fell steadily over {} consecutive points before its "
        "minimum at lr {}",
        sustain, num(lrs[best]));
    out.evidence.push_back(fmt::format("loss trend minimum {} at lr {} (point {} of {})",
                                       num(out.trend[best]), num(lrs[best]), best, n));
    return out;
  }
  int64_t steepest = window_start;
  for (int64_t k = window_start; k < window_start + sustain; ++k) {
    if (out.slope[k] < out.slope[steepest]) steepest = k;
  }
  // Where the descent is steepest: the slope-weighted centre of the points around the steepest
  // one whose slope is at least half as steep. A centroid moves far less with batch noise than
  // the single steepest point does.
  int64_t half_lo = steepest, half_hi = steepest;
  const double half_slope = 0.5 * out.slope[steepest];
  while (half_lo > from && out.slope[half_lo - 1] <= half_slope) --half_lo;
  while (half_hi < best && out.slope[half_hi + 1] <= half_slope) ++half_hi;
  double weight_sum = 0, weighted_x = 0;
  for (int64_t k = half_lo; k <= half_hi; ++k) {
    weight_sum += -out.slope[k];
    weighted_x += -out.slope[k] * x[k];
  }
  const double steepest_lr = std::pow(10.0, weighted_x / weight_sum);
  // The upper edge of that steep stretch: the largest rate at which the loss still falls at least
  // half as fast as at its fastest, interpolated between points.
  double edge_x = x[half_hi];
  if (half_hi < best) {
    const double s0 = out.slope[half_hi], s1 = out.slope[half_hi + 1];
    edge_x += (x[half_hi + 1] - x[half_hi]) * (half_slope - s0) / (s1 - s0);
  }
  const double edge_lr = std::pow(10.0, edge_x);

  double peak = out.trend[from];
  for (int64_t i = from; i <= steepest; ++i) peak = std::max(peak, out.trend[i]);
  const double drop = peak - out.trend[best];
  const double needed = needed_drop(peak);
  const std::string fall = fmt::format("loss trend fell from {} to {} (noise σ {})", num(peak),
                                       num(out.trend[best]), num(out.noise_sigma));
  if (!(drop >= needed)) {
    out.reason = fmt::format(
        "no suggestion: the loss fell by only {} anywhere in the sweep (needs {}: {}% of it or {} "
        "noise σ); the learning rate is not what holds this run back",
        num(drop), num(needed), num(100 * options.min_relative_drop),
        num(options.min_drop_noise_sigmas));
    out.evidence.push_back(fall);
    return out;
  }

  const double ceiling = lrs[best] / std::max(1.0, options.below_minimum);
  const double picked = options.upper_edge ? edge_lr : steepest_lr;
  double lr = picked;
  if (lr > ceiling) {
    lr = ceiling;
    out.capped = true;
  }
  lr = std::max(lr, lrs[0]);
  out.lr = lr;
  out.index = steepest;
  const std::string where = options.upper_edge ? "upper end of the steepest stable descent"
                                               : "centre of the steepest stable descent";
  out.reason = out.capped
                   ? fmt::format(
                         "lr {} = the loss minimum's rate {} / {}: the {} (lr {}) lies "
                         "too close to the minimum",
                         num(lr), num(lrs[best]), num(options.below_minimum), where, num(picked))
                   : fmt::format("lr {}: {} of the loss, {}× below the loss minimum at lr {}",
                                 num(lr), where, num(lrs[best] / lr), num(lrs[best]));
  out.evidence.push_back(fmt::format(
      "the loss trend falls at least half as fast as its fastest ({} per decade at lr {}) from lr "
      "{} to {} (centre {}), and at ≤ {} per decade over {} consecutive points from lr {} to {}",
      num(out.slope[steepest]), num(lrs[steepest]), num(lrs[half_lo]), num(edge_lr),
      num(steepest_lr), num(window_slope), sustain, num(lrs[window_start]),
      num(lrs[window_start + sustain - 1])));
  out.evidence.push_back(fall);
  out.evidence.push_back(
      fmt::format("loss trend minimum {} at lr {}", num(out.trend[best]), num(lrs[best])));
  if (out.rise_index) {
    out.evidence.push_back(
        fmt::format("the loss trend climbs back to {} by lr {}: the usable range ends there",
                    num(out.trend[*out.rise_index]), num(*out.rise_lr)));
  }
  if (best == to - 1) {
    out.evidence.push_back(fmt::format(
        "the loss was still falling at the last rate tried ({}); a wider sweep may find a larger "
        "usable rate",
        num(lrs[best])));
  }
  return out;
}

LrFindResult lr_find(const spec::Spec& spec, const LrFindOptions& options) {
  check_options(options);
  LrFindResult result;
  result.spec = spec.file;
  result.min_lr = options.min_lr;
  result.max_lr = options.max_lr;
  result.planned_steps = options.steps;
  result.current_lr = spec.optimizer.lr;
  const auto start = Clock::now();

  // The sweep trains only; validation would cost time and tell nothing here.
  data::Dataset data = options.dataset != nullptr
                           ? *options.dataset
                           : data::load_dataset(spec.data, spec.seed, options.warn);
  data.val = data::Split{};

  spec::Spec sweep_spec = spec;
  sweep_spec.max_steps = options.steps;
  train::TrainOptions train_options;
  train_options.progress = options.progress;
  train_options.max_steps = options.steps;
  train_options.dataset = &data;
  train_options.stop_on_nonfinite = false;  // the observer stops, with lr-find's own message
  train_options.lr_override = [&options](int64_t step, double) {
    return sweep_lr(options.min_lr, options.max_lr, options.steps, step);
  };
  train::Trainer trainer(sweep_spec, train_options, options.warn);
  SweepObserver observer(options, result);
  trainer.add_observer(&observer);
  const train::TrainResult run = trainer.run();
  result.interrupted = run.status == train::RunStatus::Interrupted;
  result.steps_run = static_cast<int64_t>(result.points.size());

  std::vector<double> lrs, losses;
  for (const auto& p : result.points) {
    lrs.push_back(p.lr);
    losses.push_back(p.loss);
  }
  const LrSuggestion suggestion = suggest_lr(lrs, losses, options.suggest);
  for (size_t i = 0; i < result.points.size(); ++i) result.points[i].trend = suggestion.trend[i];
  result.suggested_lr = suggestion.lr;
  result.best_lr = suggestion.best_lr;
  result.unstable_lr = suggestion.rise_lr;
  if (suggestion.best_index) result.best_loss = suggestion.trend[*suggestion.best_index];
  result.reason = suggestion.reason;
  result.evidence = suggestion.evidence;
  result.evidence.push_back(
      result.divergence_lr ? observer.stop_evidence()
      : result.interrupted
          ? fmt::format("interrupted after {} steps (lr {})", result.steps_run,
                        result.points.empty() ? num(options.min_lr) : num(result.points.back().lr))
          : fmt::format("no divergence up to lr {} ({} steps)", num(options.max_lr),
                        result.steps_run));
  result.naive_suggestion = naive_suggestion(lrs, losses);
  if (result.naive_suggestion) {
    result.evidence.push_back(
        fmt::format("Lightning's rule (argmin gradient of its EMA-smoothed loss) would pick lr {}",
                    num(*result.naive_suggestion)));
  }
  result.seconds = seconds_since(start);
  return result;
}

std::map<std::string, std::string> lr_fix(const LrFindResult& result, const spec::Spec& spec) {
  return fix_for(result, spec.optimizer.lr);
}

nlohmann::json to_json(const LrFindResult& r) {
  nlohmann::json points = nlohmann::json::array();
  for (const auto& p : r.points) {
    points.push_back({{"lr", p.lr},
                      {"loss", finite_json(p.loss)},
                      {"smoothed", finite_json(p.smoothed)},
                      {"trend", finite_json(p.trend)}});
  }
  nlohmann::json fix = nlohmann::json::object();
  for (const auto& [key, value] : fix_for(r, r.current_lr)) fix[key] = std::stod(value);
  return {{"spec", r.spec},
          {"min_lr", r.min_lr},
          {"max_lr", r.max_lr},
          {"planned_steps", r.planned_steps},
          {"steps_run", r.steps_run},
          {"seconds", r.seconds},
          {"interrupted", r.interrupted},
          {"current_lr", r.current_lr},
          {"suggested_lr", opt_json(r.suggested_lr)},
          {"divergence_lr", opt_json(r.divergence_lr)},
          {"best_lr", opt_json(r.best_lr)},
          {"best_loss", opt_json(r.best_loss)},
          {"unstable_lr", opt_json(r.unstable_lr)},
          {"naive_suggestion", opt_json(r.naive_suggestion)},
          {"reason", r.reason},
          {"evidence", r.evidence},
          {"fix", fix},
          {"points", points}};
}

namespace {

/// Loss (rows) against log10(lr) (columns): '.' a step's loss, '*' the trend, '^' off the top;
/// the axis marks S (suggestion), M (minimum) and D (divergence).
std::string ascii_plot(const LrFindResult& r) {
  constexpr int kWidth = 60, kHeight = 12;
  if (r.points.size() < 2) return "";
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& p : r.points) {
    if (std::isfinite(p.loss)) lo = std::min(lo, p.loss);
    if (std::isfinite(p.trend)) hi = std::max(hi, p.trend);
  }
  if (!std::isfinite(hi)) {
    for (const auto& p : r.points) {
      if (std::isfinite(p.loss)) hi = std::max(hi, p.loss);
    }
  }
  if (!std::isfinite(lo) || !std::isfinite(hi) || hi <= lo) return "";
  const double x0 = std::log10(r.min_lr), x1 = std::log10(r.max_lr);
  const auto column = [&](double lr) {
    const int c = static_cast<int>(std::lround((std::log10(lr) - x0) / (x1 - x0) * (kWidth - 1)));
    return std::clamp(c, 0, kWidth - 1);
  };
  const auto row = [&](double loss) {  // 0 = top
    const double t = (hi - loss) / (hi - lo);
    return static_cast<int>(std::lround(t * (kHeight - 1)));
  };
  std::vector<std::string> grid(kHeight, std::string(kWidth, ' '));
  const auto put = [&](double lr, double loss, char mark) {
    if (!std::isfinite(loss)) return;
    const int rr = row(loss), c = column(lr);
    if (rr < 0) {
      grid[0][c] = '^';
    } else if (rr < kHeight && (mark == '*' || grid[rr][c] == ' ')) {
      grid[rr][c] = mark;
    }
  };
  for (const auto& p : r.points) put(p.lr, p.loss, '.');
  for (const auto& p : r.points) put(p.lr, p.trend, '*');
  std::string axis(kWidth, '-');
  if (r.best_lr) axis[column(*r.best_lr)] = 'M';
  if (r.divergence_lr) axis[column(*r.divergence_lr)] = 'D';
  if (r.suggested_lr) axis[column(*r.suggested_lr)] = 'S';
  std::string out;
  for (int i = 0; i < kHeight; ++i) {
    const std::string label = i == 0             ? fmt::format("{:>8.3g}", hi)
                              : i == kHeight - 1 ? fmt::format("{:>8.3g}", lo)
                                                 : std::string(8, ' ');
    out += label + " |" + grid[i] + "\n";
  }
  out += std::string(8, ' ') + " +" + axis + "\n";
  out += fmt::format("{:>10}{:<{}}{:>8}\n", "lr ", num(r.min_lr), kWidth - 8, num(r.max_lr));
  out += "          . loss   * trend   S suggested   M minimum   D divergence\n";
  return out;
}

}  // namespace

std::string render_text(const LrFindResult& r) {
  std::string out =
      fmt::format("lr-find: {} — {} of {} steps, lr {} → {}, {:.1f} s\n", r.spec, r.steps_run,
                  r.planned_steps, num(r.min_lr), num(r.max_lr), r.seconds);
  out += r.suggested_lr ? fmt::format("suggested lr:   {}\n", num(*r.suggested_lr))
                        : std::string("suggested lr:   none\n");
  out += fmt::format("  {}\n", r.reason);
  if (r.best_lr) {
    out += fmt::format("loss minimum:   lr {} (loss {})\n", num(*r.best_lr),
                       r.best_loss ? num(*r.best_loss) : "?");
  }
  if (r.unstable_lr) {
    out += fmt::format("loss climbs from: lr {}\n", num(*r.unstable_lr));
  }
  out += r.divergence_lr ? fmt::format("diverged at:    lr {}\n", num(*r.divergence_lr))
                         : std::string("diverged at:    not within the sweep\n");
  out += fmt::format("spec's lr:      {}\n", num(r.current_lr));
  if (r.naive_suggestion) {
    out += fmt::format("Lightning's rule would pick: lr {}\n", num(*r.naive_suggestion));
  }
  for (const auto& e : r.evidence) out += "  - " + e + "\n";
  const auto fix = fix_for(r, r.current_lr);
  if (!fix.empty()) {
    out += fmt::format("fix: --set optimizer.lr={}\n", fix.at("optimizer.lr"));
  } else if (r.suggested_lr) {
    out += "fix: none needed (the spec's lr is within 3× of the suggestion)\n";
  }
  out += "\n" + ascii_plot(r);
  return out;
}

}  // namespace lossdoctor::experiment
