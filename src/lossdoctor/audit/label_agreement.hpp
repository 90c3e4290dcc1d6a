#pragma once
// Label agreement across the splits: do the training labels say what the validation labels say?
//
// Small CNNs are fitted to the *validation* labels (k folds over the validation split), then
// asked about (a) the validation images they never saw and (b) the training images. If the two
// splits are labelled alike, a model agrees with the training labels about as often as with the
// unseen validation labels; wrong training labels lower (b) only. Unlike the run's own
// validation-versus-training gap, this needs no progress from the user's model: under heavy
// noise the run may sit at chance while a model fitted to clean labels agrees with 80% of unseen
// validation labels and 40% of the training labels.
//
// Both splits are prepared by the training pipeline's deterministic steps (averaged down to at
// most 32×32 pixels, so the cost stays a few seconds whatever the image size) and standardised per
// split, so a spec that prepares the splits differently (preprocessing_mismatch) is not read as
// a label disagreement. Agreement is class-balanced (the mean over classes of each class's
// agreement), so a class prior that differs between the splits is not one either. Images that
// look broken are left out (of the standardising moments too); noise-like images are left out of
// both splits when both have enough clean-looking ones, or when the training split has
// significantly more of them than validation: they are the corrupt_samples checks' business.
//
// Contract:
//   requires: a Dataset as produced by data::load_dataset; either split may be empty.
//   ensures:  deterministic for the same data, spec and options (seed); `measured` is false (with
//             `skipped`, a reason) when the validation split is too small to fit a model; then
//             no finding. label_agreement_finding returns a label_noise finding only when the
//             gap is significant and large enough (see AgreementOptions).
//   throws:   std::invalid_argument for images that are not 4-D float tensors.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lossdoctor/data/channel_stats.hpp"
#include "lossdoctor/data/dataset.hpp"
#include "lossdoctor/finding.hpp"
#include "lossdoctor/spec/spec.hpp"

namespace lossdoctor::audit {

struct AgreementOptions {
  int folds = 2;                  ///< validation folds: each model fits the others
  int64_t max_val_images = 4000;  ///< validation images used (a seeded random subset above it)
  /// Training images scored (a seeded random subset above it; suspects come from these).
  int64_t max_train_images = 60000;
  /// The agreement is measured on this many of them (the first of the same seeded order); the
  /// others are asked only when the finding is raised, for its suspects.
  int64_t estimate_images = 10000;
  /// Fewest validation images per class (on average) for a model worth asking.
  double min_val_per_class = 15;
  int64_t min_steps = 240;  ///< optimiser steps per model at least (more epochs on small data)
  int max_epochs = 40;
  int64_t batch_size = 64;
  double lr = 2e-3;
  uint64_t seed = 0;

  // When the disagreement is a finding (tuned on bench/zoo and the tuning zoos: docs/audit.md).
  /// The models must have learned the validation labels: unseen-validation agreement above
  /// chance (1/K) by at least this many of its standard errors. A significance bar, not a share
  /// of the way to perfect: with 29–36 classes and 16–20 validation images per class the models
  /// reach 15–25% (5–9× chance) and a 55–65% label noise was left unflagged (held-out zoo 16).
  double min_learned_z = 3.0;
  double min_z = 3.0;  ///< gap (validation − training agreement) over its standard error
  /// Estimated share of wrong training labels (uniform flips) at least this.
  double min_noise = 0.06;
  /// Confidence of the finding: base + per_noise × estimated noise, at most max_confidence.
  double base_confidence = 0.35;
  double per_noise = 1.0;
  double max_confidence = 0.9;
};

struct LabelAgreement {
  bool measured = false;
  std::string skipped;  ///< why not measured
  int64_t num_classes = 0;
  int64_t val_images = 0;         ///< validation images the models were fitted to / asked about
  int64_t train_images = 0;       ///< training images the agreement was measured on
  int64_t left_out_odd = 0;       ///< training images left out as broken or noise-like
  double train_noise_like = 0;    ///< share of noise-like images (of those with content), training
  double val_noise_like = 0;      ///< ... and validation
  double val_agreement = 0;       ///< class-balanced accuracy on unseen validation images
  double train_agreement = 0;     ///< class-balanced agreement with the training labels
  double standard_error = 0;      ///< of val_agreement − train_agreement
  double val_standard_error = 0;  ///< of val_agreement alone
  double val_confidence = 0;      ///< mean top probability on unseen validation images
  double train_confidence = 0;    ///< mean top probability on training images
  double estimated_noise = 0;     ///< share of wrong training labels, if flips are uniform
  /// Training positions the models (probabilities averaged) give P(label) < 1/K with another
  /// class on top, most confident disagreement first: among every scored training image when
  /// the finding is raised, among the measured ones otherwise.
  std::vector<int64_t> suspects;
  std::vector<int64_t> suggested;  ///< per suspect: the models' class
  double z() const {
    return standard_error > 0 ? (val_agreement - train_agreement) / standard_error : 0;
  }
  /// How far the unseen-validation agreement is above chance, in its standard errors.
  double learned_z() const {
    if (num_classes < 2 || !(val_standard_error > 0)) return 0;
    return (val_agreement - 1.0 / static_cast<double>(num_classes)) / val_standard_error;
  }
};

/// Measures the agreement (see the header comment).
/// `kinds`: both splits' data::odd_image_kinds when the caller has them (nullptr: computed here).
LabelAgreement measure_label_agreement(const data::Dataset& ds, const spec::DataSpec& spec,
                                       const AgreementOptions& options = {},
                                       const data::SplitImageKinds* kinds = nullptr);

/// The label_noise finding (severity warning) when `a` clears AgreementOptions' bars, its
/// evidence the numbers; samples: the suspects (at most max_samples). nullopt otherwise.
std::optional<Finding> label_agreement_finding(const LabelAgreement& a,
                                               const AgreementOptions& options = {},
                                               size_t max_samples = 1000);

/// One line with the numbers, for the audit's notes ("label agreement: ...").
std::string label_agreement_note(const LabelAgreement& a);

}  // namespace lossdoctor::audit
