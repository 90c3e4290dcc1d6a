#pragma once
// The learning-rate range test (`lossdoctor lr-find SPEC`): train the spec for a few dozen steps
// while the learning rate grows exponentially from `min_lr` to `max_lr`, record the loss at each
// rate, stop once the loss diverges, and suggest a rate from the steepest *stable* descent.
//
// Robust where the usual range test (Lightning, fastai) is not:
//   - the suggestion is read from a centred, median-filtered trend (no EMA lag, no single-point
//     spikes or dips) and only where the descent is sustained over several points and clearly
//     larger than the batch-to-batch noise; the first `skip_start` points never count;
//   - the divergence stop ignores the first `skip_start` steps and single-batch spikes;
//   - it says so when there is nothing to suggest (no real descent anywhere in the sweep).
// Lightning's own rule (argmin of the gradient of its EMA-smoothed loss) is computed on the same
// sweep as `naive_suggestion`, for comparison.
//
// Contract:
//   requires: a validated spec; options with 0 < min_lr < max_lr, skip_start >= 0,
//             steps >= skip_start + 2·half_window + sustain_points + 1 (24 by default),
//             0 < smoothing <= 1, diverge_factor > 1.
//   ensures:  the sweep is a pure function of (spec, options) on CPU (the Trainer reseeds every
//             step), so two calls return the same points. The spec's schedule is replaced by the
//             sweep; its optimiser, batch size, clipping, data and model are used as they are. The
//             validation split is not evaluated. Nothing is written to disk.
//             suggested_lr, when set, lies in [min_lr, max_lr] and at or below the loss
//             minimum's rate / below_minimum; best_lr < unstable_lr when both are set.
//   throws:   InputError for bad options (message names the option), and whatever the Trainer
//             throws for a bad spec or data (InputError).

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lossdoctor/data/dataset.hpp"
#include "lossdoctor/spec/spec.hpp"
#include "lossdoctor/train/trainer.hpp"

namespace lossdoctor::experiment {

/// How the suggestion is read from a recorded (lr, loss) curve. Defaults suit 60–200 point sweeps.
struct LrSuggestOptions {
  /// Points at the start of the sweep that never count (warm-up spikes, batch-norm settling).
  int64_t skip_start = 10;
  /// Half-width, in points, of the centred local line fit giving the trend and its slope.
  int64_t half_window = 4;
  /// A descent counts only when the slope stays negative over this many consecutive points.
  int64_t sustain_points = 5;
  /// The descent must lower the trend by at least this fraction of its value before it...
  double min_relative_drop = 0.1;
  /// ...and by at least this many noise standard deviations (noise: MAD of loss − running median).
  double min_drop_noise_sigmas = 2.0;
  /// true: suggest the upper end of the steepest descent (the largest rate at which the loss
  /// still falls at least half as fast as at its fastest); false: its slope-weighted centre,
  /// which is more conservative (and stabler across seeds) but trains slower.
  bool upper_edge = true;
  /// The suggestion is never above (rate at the trend's minimum) / this.
  double below_minimum = 3.0;
  /// The minimum is searched only up to the first point where the trend climbs back above it by
  /// more than rise_noise_sigmas noise σ and rise_fraction of the descent that led to it.
  double rise_noise_sigmas = 2.0;
  double rise_fraction = 0.2;

  LrSuggestOptions& with_skip_start(int64_t v) {
    skip_start = v;
    return *this;
  }
  LrSuggestOptions& with_half_window(int64_t v) {
    half_window = v;
    return *this;
  }
  LrSuggestOptions& with_sustain_points(int64_t v) {
    sustain_points = v;
    return *this;
  }
  LrSuggestOptions& with_upper_edge(bool v) {
    upper_edge = v;
    return *this;
  }
  LrSuggestOptions& with_below_minimum(double v) {
    below_minimum = v;
    return *this;
  }
};

/// The suggestion read from one curve (a pure function of it: see suggest_lr).
struct LrSuggestion {
  std::optional<double> lr;           ///< suggested rate; unset when there is no stable descent
  std::optional<int64_t> index;       ///< point of the steepest slope of the chosen descent
  std::optional<double> best_lr;      ///< rate at the minimum of the centred trend
  std::optional<int64_t> best_index;  ///< point of that minimum
  std::optional<double> rise_lr;      ///< rate from which the trend climbs clearly above it
  std::optional<int64_t> rise_index;  ///< point of that climb
  bool capped = false;                ///< the steepest point was too close to the minimum
  std::vector<double> trend;  ///< centred, median-filtered loss per point (NaN where not analysed)
  std::vector<double> slope;  ///< d trend / d log10(lr) per point (NaN where not analysed)
  double noise_sigma = 0;     ///< robust batch-to-batch noise of the loss in the analysed range
  std::string reason;         ///< one sentence: why this rate, or why none
  std::vector<std::string> evidence;  ///< the numbers behind it
};

/// Reads a suggestion from a sweep. Trend: centred running median of 5, then a local line fit
/// over 2·half_window+1 points against log10(lr) (its slope is the descent rate per decade).
/// Minimum: the lowest trend before the trend first climbs clearly back up. Descent: the
/// `sustain_points` consecutive points before the minimum whose shallowest slope is the most
/// negative; around its steepest point, the stretch at least half as steep. Suggestion: that
/// stretch's upper end (or centre), capped at the minimum's rate / below_minimum, provided the
/// loss fell by a clear fraction and well above the noise.
/// requires: lrs.size() == losses.size(), lrs positive and increasing. Points from the first
/// non-finite loss on are ignored. ensures: never throws; lr unset (with a reason) when fewer than
/// skip_start + 8 finite points exist or no descent is both sustained and larger than the noise.
LrSuggestion suggest_lr(const std::vector<double>& lrs, const std::vector<double>& losses,
                        const LrSuggestOptions& options = {});

/// Lightning's LearningRateFinder.suggestion on the same points: bias-corrected EMA of the loss
/// with `ema_beta` (Lightning: 0.98; 0 means the raw loss), drop `skip_begin` points at the start
/// and `skip_end` at the end, keep the finite ones, return the rate at argmin of np.gradient
/// (unit spacing). Unset with fewer than 2 points left.
std::optional<double> naive_suggestion(const std::vector<double>& lrs,
                                       const std::vector<double>& losses, int64_t skip_begin = 10,
                                       int64_t skip_end = 1, double ema_beta = 0.98);

/// Bias-corrected exponential moving average: s_i = a_i / (1 − (1−w)^(i+1)) with
/// a_i = (1−w)·a_{i−1} + w·loss_i and w = `weight` (the weight of the newest point).
std::vector<double> ema_bias_corrected(const std::vector<double>& values, double weight);

/// Rate used at step `step` of an exponential sweep of `steps` points from min_lr to max_lr.
double sweep_lr(double min_lr, double max_lr, int64_t steps, int64_t step);

/// The sweep's stop rule, fed one loss at a time (a pure object, so it is tested on synthetic
/// losses). Stops on a non-finite loss, or once, after the first `skip_start` points, both the
/// causal EMA and the median of the last 3 losses exceed diverge_factor × the lowest EMA seen
/// since skip_start. Early spikes never stop it (they come before the reference is taken), and
/// neither does a single bad batch later (the median ignores it).
class DivergenceCheck {
 public:
  /// requires: 0 < smoothing <= 1, diverge_factor > 1, skip_start >= 0.
  DivergenceCheck(double smoothing, double diverge_factor, int64_t skip_start);
  /// Feeds the next loss; true when the sweep should stop here.
  bool add(double loss);
  /// Bias-corrected EMA after the last loss (NaN once a loss was non-finite).
  double smoothed() const { return smoothed_; }
  /// Why it stopped ("" while it has not).
  const std::string& why() const { return why_; }

 private:
  double smoothing_, diverge_factor_;
  int64_t skip_start_;
  int64_t count_ = 0;
  double average_ = 0, smoothed_ = 0;
  double best_;
  std::vector<double> last_;  ///< up to the last 3 losses
  std::string why_;
};

struct LrFindOptions {
  double min_lr = 1e-7;  ///< first rate of the sweep
  double max_lr = 10;    ///< last rate (reached only when the loss never diverges)
  int64_t steps = 100;   ///< points in the sweep (one optimiser step each)
  /// Weight of the newest point in the causal EMA used for the divergence stop and `smoothed`.
  double smoothing = 0.05;
  /// Stop once the smoothed loss and the median of the last 3 losses exceed this × the best
  /// smoothed loss since skip_start (or the loss is NaN/Inf).
  double diverge_factor = 4;
  LrSuggestOptions suggest;  ///< suggest.skip_start also delays the divergence check
  /// Already loaded data for this spec (nullptr: load it). Its validation split is not used.
  const data::Dataset* dataset = nullptr;
  train::Progress progress = train::Progress::Quiet;
  data::WarningSink warn;  ///< data loading warnings

  LrFindOptions& with_min_lr(double v) {
    min_lr = v;
    return *this;
  }
  LrFindOptions& with_max_lr(double v) {
    max_lr = v;
    return *this;
  }
  LrFindOptions& with_steps(int64_t v) {
    steps = v;
    return *this;
  }
  LrFindOptions& with_smoothing(double v) {
    smoothing = v;
    return *this;
  }
  LrFindOptions& with_diverge_factor(double v) {
    diverge_factor = v;
    return *this;
  }
  LrFindOptions& with_skip_start(int64_t v) {
    suggest.skip_start = v;
    return *this;
  }
  LrFindOptions& with_dataset(const data::Dataset* v) {
    dataset = v;
    return *this;
  }
  LrFindOptions& with_progress(train::Progress v) {
    progress = v;
    return *this;
  }
};

/// One step of the sweep (the plot data).
struct LrFindPoint {
  double lr = 0;        ///< rate used for this step's update
  double loss = 0;      ///< loss of this step's batch (before the update)
  double smoothed = 0;  ///< causal bias-corrected EMA of the loss (what the divergence stop reads)
  double trend = 0;     ///< centred trend the suggestion is read from (NaN where not analysed)
};

struct LrFindResult {
  std::string spec;  ///< spec file
  double min_lr = 0, max_lr = 0;
  int64_t planned_steps = 0;
  std::vector<LrFindPoint> points;
  std::optional<double> suggested_lr;   ///< steepest stable descent; unset: nothing to suggest
  std::optional<double> divergence_lr;  ///< rate at which the sweep stopped on divergence
  std::optional<double> best_lr;        ///< rate at the minimum of the trend
  /// Rate from which the trend climbs clearly back above its minimum: the usable range ends here
  /// even when the loss never diverges (Adam with batch norm often just returns to chance).
  std::optional<double> unstable_lr;
  std::optional<double> best_loss;    ///< trend at that minimum
  double current_lr = 0;              ///< the spec's optimizer.lr, for comparison
  std::string reason;                 ///< one sentence: why this rate, or why none
  std::vector<std::string> evidence;  ///< the numbers behind it
  int64_t steps_run = 0;
  double seconds = 0;
  bool interrupted = false;  ///< Ctrl-C ended the sweep early
  /// What Lightning's rule picks on the same sweep (argmin gradient of its 0.98-EMA loss).
  std::optional<double> naive_suggestion;
};

/// Runs the range test. See the contract at the top of this file.
LrFindResult lr_find(const spec::Spec& spec, const LrFindOptions& options = {});

/// {"spec", "min_lr", "max_lr", "planned_steps", "steps_run", "seconds", "current_lr",
///  "suggested_lr", "divergence_lr", "best_lr", "best_loss", "naive_suggestion", "reason",
///  "evidence", "fix", "points": [{"lr","loss","smoothed","trend"}]} (non-finite/unset → null).
nlohmann::json to_json(const LrFindResult& result);

/// Terminal summary: suggestion, minimum, divergence, Lightning's pick, the fix, and a small
/// ASCII plot of the loss against log10(lr).
std::string render_text(const LrFindResult& result);

/// Spec overrides (`--set` syntax) the doctor can apply as a fix: {"optimizer.lr": suggested rate
/// rounded to 2 significant digits}. Empty when there is no suggestion, or when the spec's
/// optimizer.lr is already within a factor of 3 of it (the test cannot tell them apart).
std::map<std::string, std::string> lr_fix(const LrFindResult& result, const spec::Spec& spec);

}  // namespace lossdoctor::experiment
