#pragma once
// The yardstick of the confirmation experiments: a fixed subset of the validation split,
// evaluated every few steps of a run, plus the paired statistics that compare two runs (the
// baseline and an intervention arm) step by step.
//
// Contract:
//   Yardstick (a train::TrainObserver):
//     requires: attached to a Trainer before run(); eval_every ≥ 1, size ≥ 1.
//     ensures:  a point at step 0 (before the first update), after every eval_every-th step
//               and after the trainer's last planned step, each the loss (the spec's loss) and
//               accuracy of the network in eval mode, without grad, on `size` validation
//               images spread evenly over the prepared validation split; no point when the
//               validation split is empty. It draws no random numbers and leaves the network in
//               training mode, so the run it watches is the same with or without it. It also
//               keeps the training loss of every step.
//   compare_* (pure functions):
//     requires: two series of the same quantity, indexed the same way (steps, eval points).
//     ensures:  pairs only positions present in both; `pairs` counts them; t is 0 with fewer
//               than 2 pairs or zero spread and a nonzero mean gives ±1e9 (a perfectly constant
//               difference); the sign is "arm better" > 0.
//   throws:   std::invalid_argument for eval_every < 1, size < 1 or block < 1.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lossdoctor/train/trainer.hpp"

namespace lossdoctor::experiment {

/// One evaluation of the yardstick.
struct YardstickPoint {
  YardstickPoint() = default;
  YardstickPoint(int64_t step, double loss, double accuracy,
                 std::vector<double> class_accuracy = {}, int64_t images = 0)
      : step(step),
        loss(loss),
        accuracy(accuracy),
        class_accuracy(std::move(class_accuracy)),
        images(images) {}

  int64_t step = 0;  ///< optimiser steps done when measured (0: the initial weights)
  double loss = 0;   ///< mean loss (spec's loss) on the subset; may be NaN/Inf
  double accuracy = 0;
  /// Accuracy on the subset's images of each class (index = label; NaN for a class with no
  /// image in the subset). Empty for points made by interpolation (at_equal_samples).
  std::vector<double> class_accuracy;
  /// Validation images evaluated (0 for interpolated points and where unknown).
  int64_t images = 0;
  /// Whether each of those images was predicted right, in the subset's order (the same images
  /// in every run of one spec); empty for interpolated points and where unknown.
  std::vector<bool> correct;
};

class Yardstick : public train::TrainObserver {
 public:
  Yardstick(int64_t eval_every = 10, int64_t size = 512);

  void before_forward(train::Trainer& trainer, int64_t step) override;
  void after_step(train::Trainer& trainer, const train::StepView& view) override;

  /// Evaluates now and appends a point for `steps_done` (skipped if that step has one).
  void measure(train::Trainer& trainer, int64_t steps_done);

  const std::vector<YardstickPoint>& points() const { return points_; }
  /// Training loss of every step run, in order (step i at index i).
  const std::vector<double>& train_loss() const { return train_loss_; }
  /// Wall seconds spent evaluating (the yardstick's own cost).
  double seconds() const { return seconds_; }
  int64_t eval_every() const { return eval_every_; }
  int64_t size() const { return size_; }

 private:
  int64_t eval_every_, size_;
  std::vector<YardstickPoint> points_;
  std::vector<double> train_loss_;
  double seconds_ = 0;
};

/// A paired comparison of two series: the per-pair differences d (arm better > 0).
struct PairedComparison {
  std::string measure;  ///< "train_loss" | "val_accuracy" | "val_loss" | "rare_class_accuracy"
  int pairs = 0;        ///< number of paired blocks or points used
  double mean_diff = 0;
  double t = 0;  ///< paired t statistic of the differences
  /// Relative effect: for losses the relative reduction 1 − exp(−mean log ratio) (0.73 = 73%
  /// lower); for accuracy the mean difference in fraction (0.05 = 5 points).
  double effect = 0;
  double base_start = 0, base_end = 0, arm_start = 0, arm_end = 0;  ///< first/last paired values
  /// val_accuracy_at_end paired by image: the images only one of the two runs got right (-1: the
  /// two-proportion test, per-image outcomes unknown).
  int64_t images_differing = -1;
};

/// Block means of the training loss (blocks of `block` steps, paired by step), compared on the
/// log scale: d = log(base block) − log(arm block). Blocks where either run is non-finite are
/// left out (see nonfinite_step for that verdict). Only the first min(|base|, |arm|) steps count.
PairedComparison compare_train_loss(const std::vector<double>& base, const std::vector<double>& arm,
                                    int64_t block = 10);

/// Yardstick points paired by step (step 0 left out: it measures the initial weights). Accuracy:
/// d = arm − base; loss: d = log base − log arm (points non-finite in either are left out).
PairedComparison compare_accuracy(const std::vector<YardstickPoint>& base,
                                  const std::vector<YardstickPoint>& arm);
PairedComparison compare_val_loss(const std::vector<YardstickPoint>& base,
                                  const std::vector<YardstickPoint>& arm);
/// The validation accuracy at the last step both series measured (step > 0): measure
/// "val_accuracy_at_end", d = arm − base, pairs = n images, effect = d; start values from the
/// first common point (step > 0). When both points know which images were right (`correct`, the
/// same n images), the images are paired (McNemar): t = (r − w) / √(r + w), r the images only the
/// arm gets right, w those only the baseline does (t = 0 when no image differs). Otherwise as two
/// proportions: t = d / √(p_b(1−p_b)/n + p_a(1−p_a)/n) (each p shrunk by (x + ½)/(n + 1), so 0%
/// vs 0% is not a zero variance). The yardstick of a fix that changes only how validation is
/// prepared: the arm trains exactly like the baseline, so the runs differ only in evaluation, by
/// a gap that grows as the model learns; paired over steps, that trend reads as noise; the same
/// images through the same weights are paired data (docs/confirm.md). pairs = 0 when no common
/// point has its image count.
PairedComparison compare_accuracy_at_end(const std::vector<YardstickPoint>& base,
                                         const std::vector<YardstickPoint>& arm);

/// The mean accuracy over `classes` (each class's accuracy weighing the same; at each pair of
/// points, only the classes with images in both), paired by step like compare_accuracy:
/// measure "rare_class_accuracy", d = arm − base. Points without class accuracies
/// (interpolated ones) are left out. The yardstick of a fix that targets some classes
/// (oversampling the rare ones): a balanced validation set shows a rare class's gain only as
/// 1/K of it in overall accuracy.
PairedComparison compare_class_accuracy(const std::vector<YardstickPoint>& base,
                                        const std::vector<YardstickPoint>& arm,
                                        const std::vector<int64_t>& classes);

/// First step whose training loss is non-finite, or -1.
int64_t nonfinite_step(const std::vector<double>& train_loss);

/// First step where the run stopped being usable, or -1: its training loss non-finite, or more
/// than `blowup_factor` × its first loss (a cross-entropy of 1e16 at step 20 is as final
/// as a NaN: the weights are destroyed, whatever the loss does next). blowup_factor ≤ 0:
/// non-finite only.
int64_t unusable_step(const std::vector<double>& train_loss, double blowup_factor);

/// Mean and t statistic of a sample of differences (t = mean / (sd / √n)).
std::pair<double, double> mean_and_t(const std::vector<double>& diffs);

}  // namespace lossdoctor::experiment
