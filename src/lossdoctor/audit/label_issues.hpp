#pragma once
// Label issues: confident learning (Northcutt et al., 2021) on out-of-sample predicted
// probabilities from a short k-fold cross-validated training of a small CNN, optionally combined
// with training-dynamics margins from the doctor's per-sample probes.
//
// Contract:
//   requires: images float [N, C, H, W] already prepared (scaled and normalised), H, W >= 4;
//             labels int64 [N] in [0, num_classes); num_classes >= 2; folds >= 2; N >= folds.
//   ensures:  pred_probs [N, K] holds, for every sample, the softmax of a model that never saw it
//             (with rounds > 1: of the last round's model, trained without the samples the
//             earlier rounds scored P(given) < refit_drop_below).
//             Same inputs + options (seed, threads) → identical result.
//             suspects are sorted most suspicious first; self_confidence[i] = pred_probs[s, label]
//             and suggested[i] = argmax pred_probs[s] for s = suspects[i].
//   throws:   std::invalid_argument naming the offending value for bad shapes or options.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lossdoctor/finding.hpp"

namespace lossdoctor::audit {

struct LabelIssueOptions {
  int folds = 4;   ///< cross-validation folds (each sample is predicted by one model)
  int epochs = 2;  ///< epochs per fold
  /// Cross-validation rounds. Round 2 ("refit") trains every fold's model again without the
  /// samples round 1 scored P(given) < refit_drop_below (round r: without those of every earlier
  /// round) and scores every sample with the refit models. At 20% noise on Fashion-MNIST the
  /// exclude file (both rounds' P(given) < 0.05) then holds ~90% of the flips instead of ~78%, at
  /// precision 0.90 instead of 0.94 (docs/label_issues.md). 1: a single round.
  int rounds = 2;
  double refit_drop_below = 0.05;  ///< a refit trains without what earlier rounds scored below
  int64_t batch_size = 128;        ///< training batch size
  double lr = 2e-3;                ///< Adam learning rate
  uint64_t seed = 0;               ///< fold split, shuffling and weight init
  int threads = 0;                 ///< intra-op threads while training (0: leave as is)
  /// A sample is a suspect when its out-of-sample P(given) is below this and another class has
  /// the argmax. 0: chance level, 1 / num_classes (measured on Fashion-MNIST at 5/20/40% noise it
  /// beats a fraction of the confident-learning class threshold, which falls as noise rises).
  double suspect_below = 0;
  /// Optional per-sample training-dynamics margin (RunRecord.samples[i].mean_margin: score of the
  /// given label minus the best other score), indexed like `labels`. Empty: not used. When given
  /// (size N), suspects are ranked by the mean of their self-confidence rank and margin rank.
  std::vector<double> margins;
};

struct LabelIssues {
  std::vector<int64_t> suspects;        ///< train indices, most suspicious first
  std::vector<double> self_confidence;  ///< per suspect: out-of-sample P(given label)
  std::vector<int64_t> suggested;       ///< per suspect: argmax label
  at::Tensor confident_joint;           ///< int64 [K, K]: C[given][confident true class]
  at::Tensor noise_matrix;  ///< double [K, K]: calibrated joint, estimated P(given=i, true=j)
  double estimated_noise_rate = 0;  ///< 1 − trace(noise_matrix)
  at::Tensor pred_probs;            ///< float [N, K] out-of-sample predicted probabilities
  /// Positions the last round trained without: an earlier round scored them P(given) <
  /// refit_drop_below (sorted; empty with rounds = 1). Confidently mislabelled by that round's
  /// models, so the exclude file takes them with the last round's confident suspects.
  std::vector<int64_t> refit_dropped;
};

/// Finds samples whose given label is likely wrong. `progress` receives one line per fold.
LabelIssues find_label_issues(const at::Tensor& images, const at::Tensor& labels,
                              int64_t num_classes, const LabelIssueOptions& options,
                              const std::function<void(const std::string&)>& progress = {});

/// The audit finding for `issues` (cause "label_noise"): evidence holds the estimated noise rate,
/// the estimated noise per class pair (given → true: share of all samples and of the given label;
/// every pair ≥ 0.5% of the samples, at most 10, at least the largest) and the number of
/// suspects; samples holds the first `max_samples` suspects. fix is left empty (the CLI writes the
/// exclude file).
Finding label_noise_finding(const LabelIssues& issues, int64_t num_classes,
                            size_t max_samples = 1000);

}  // namespace lossdoctor::audit
