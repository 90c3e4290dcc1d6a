#pragma once
// Numbers the diagnoser reads straight off a RunRecord (as opposed to detector symptoms):
// loss levels, input scale, label balance, learning-rate path, update sizes, loop-bug signs.
// Pure functions; documented thresholds live in diagnoser.cpp.

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "lossdoctor/run_record.hpp"

namespace lossdoctor::diagnose {

/// Fewest samples of a group (noise-like, clean, audit-flagged) whose first-sight accuracy is
/// reported.
inline constexpr int64_t kMinLookGroup = 20;

/// How a group of training samples was predicted at first sight (SampleDynamics::first_margin
/// > 0, before the model had seen them): of those seen and not broken, how many and how many
/// right. accuracy() is NaN below kMinLookGroup of them.
struct FirstSight {
  int64_t judged = 0, right = 0;
  /// Counts a sample with a first sighting that is not broken; ignores the others.
  void add(const SampleDynamics& d);
  double accuracy() const;
};

struct RecordSignals {
  int64_t steps = 0;
  double chance_loss = 0;   ///< ln K for cross_entropy / nll, else NaN
  double initial_loss = 0;  ///< median of the first 5 finite losses
  double final_loss = 0;  ///< median of the last 10% (≥ 5) losses; Inf if the run ended non-finite
  double best_loss = 0;   ///< minimum of a 10-step running median
  bool ended_nonfinite = false;
  double input_mean = 0, input_std = 0, input_max_abs = 0;  ///< medians over steps
  double odd_input_fraction = 0;                            ///< mean over steps
  double max_class_ratio = 1;  ///< most / least frequent class over all batches
  double lr_first = 0, lr_max = 0, lr_last = 0;
  /// Median over weight layers of each layer's median |Δw|/|w| over the probes, leaving out
  /// probes where the layer got no gradient and did not move (NaN when nothing is left).
  double median_update_ratio = 0;
  std::string largest_update_layer, smallest_update_layer;
  double zero_update_fraction = 0;      ///< steps with update_norm == 0 while grad_norm > 0
  double median_grad_change_ratio = 0;  ///< over steps 5–59; NaN when unknown
  double grad_norm_growth = 1;       ///< median grad norm of the last quarter of steps / the first
  double negated_loss_fraction = 0;  ///< steps where loss ≈ −reference_loss
  double late_train_accuracy = 0;    ///< mean batch accuracy over the last 20% of steps
  /// Mean eval-mode batch accuracy (dropout off) over the probe steps of the last 20% of steps
  /// that measured it (StepSample::eval_batch_accuracy); NaN when none did.
  double late_eval_train_accuracy = std::numeric_limits<double>::quiet_NaN();
  std::optional<double> val_accuracy, val_loss;  ///< last epoch record
  double weight_norm_ratio = 1;                  ///< last / first weight norm
  double weight_norm_growth = 1;                 ///< largest / first weight norm
  double first_update_jump = 1;                  ///< median loss of steps 1–3 / loss of step 0
  double early_update_ratio = 0;         ///< median |Δw|/|w| over weight layers at the first probe
  double initial_activation_growth = 1;  ///< activation std, last weight layer / first, at step 0
  bool zero_initial_weights = false;     ///< a weight layer had norm 0 at the first probe
  int64_t weight_layers = 0;
  int64_t relu_layers = 0;        ///< relu, leaky_relu, elu, selu, gelu
  int64_t saturating_layers = 0;  ///< sigmoid, tanh
  int64_t sigmoid_layers = 0;     ///< sigmoid alone (hard_sigmoid is not measured)
  /// Largest share of saturated units of any tanh/sigmoid layer at any probe (0 without probes).
  double peak_saturated_fraction = 0;
  bool has_batchnorm = false;
  int64_t labels_counted = 0;  ///< samples behind max_class_ratio
  /// Of the training samples seen at least kRepeatSightings times: those whose last loss exceeds
  /// ln K + 0.7. A sample seen once was judged by whatever model met it, an untrained one in the
  /// first steps (held-out zoo 4's d12 controls stopped inside their first epoch: 10% of their
  /// once-seen samples looked "confidently wrong"); 0 when none was seen twice.
  double high_loss_fraction = 0;
  /// Of the same samples: those whose mean margin (given-label score − best other score,
  /// averaged over their sightings) is below −2: contradicted throughout, not merely hard.
  double contradicted_fraction = 0;
  double late_improvement =
      0;  ///< relative fall of the median loss from the 3rd to the 4th quarter
  /// Training samples a probe step looked at image by image (SampleDynamics::look): how many,
  /// how many were broken (non-finite or constant) or noise-like, and how the noise-like and the
  /// clean ones were predicted at first sight; chance is 1/K. Zero counts when no sample was
  /// looked at (records without per-sample indices, or written before session 12).
  struct ImageLooks {
    int64_t checked = 0, broken = 0, noise_like = 0;
    FirstSight noise_like_first, clean_first;
    double chance = std::numeric_limits<double>::quiet_NaN();
    /// The whole data set's noise-like shares per split (RunRecord::noise_like_shares), if known.
    std::optional<NoiseLikeShares> split_shares;
  };
  ImageLooks looks;
};

/// Sightings a training sample needs before its per-sample statistics say anything about its
/// label (high_loss_fraction, contradicted_fraction, experiment::label_noise_suspects).
inline constexpr int32_t kRepeatSightings = 2;

RecordSignals read_signals(const RunRecord& record);

double median(std::vector<double> values);

}  // namespace lossdoctor::diagnose
