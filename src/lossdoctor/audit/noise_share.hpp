#pragma once
// Noise-like images, training split against validation: more pure-noise images among the
// training images than among the validation images of the same classes is corruption.
//
// Each image is judged on its own (data::odd_image_kinds: pixel-to-pixel differences as large as
// the image's contrast, and no structure at a coarse scale). Data that merely looks noisy
// (textures, spectrograms, grainy photographs) looks so in both splits; images that were
// replaced by noise, or a loader that garbles some training files, raise the training split's
// share only. The comparison is class-balanced (the mean over classes of each class's
// difference), so a class prior that differs between the splits — noise-like textures in a
// class cut to a tenth of the training split — is not read as corruption. Unlike the run's own
// corrupt_samples signal (the model predicts noise-like images worse than clean ones), it needs
// no progress from the user's model: a run that learns slowly still has its 25% noise images
// found (held-out zoo 10's r13-corrupt-noise-25: healthy on two seeds of three before).
//
// Contract:
//   requires: a Dataset as produced by data::load_dataset; either split may be empty.
//   ensures:  deterministic; `measured` is false (with `skipped`, a reason) when either split has
//             too few images with content to compare; noise_share_finding returns a
//             corrupt_samples finding only when the training split's class-balanced excess is at
//             least NoiseShareOptions::min_excess and min_z standard errors.
//   throws:   std::invalid_argument for images that are not 4-D float tensors.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lossdoctor/data/channel_stats.hpp"
#include "lossdoctor/data/dataset.hpp"
#include "lossdoctor/finding.hpp"

namespace lossdoctor::audit {

/// When the excess is a finding (chosen on bench/zoo and the tuning zoos: docs/audit.md).
struct NoiseShareOptions {
  /// Class-balanced training share minus validation share, at least (a fraction of the images).
  double min_excess = 0.03;
  double min_z = 4.0;  ///< the excess over its standard error, at least
  /// Fewest validation images with content (the reference share is a share of those).
  int64_t min_val_images = 20;
  /// Confidence of the finding: base + per_excess × excess, at most max_confidence (the audit's
  /// outlier finding uses the same scale for the same share).
  double base_confidence = 0.4;
  double per_excess = 10.0;
  double max_confidence = 0.9;

  NoiseShareOptions& with_min_excess(double v) {
    min_excess = v;
    return *this;
  }
  NoiseShareOptions& with_min_z(double v) {
    min_z = v;
    return *this;
  }
};

struct NoiseShare {
  bool measured = false;
  std::string skipped;             ///< why not measured
  int64_t train_with_content = 0;  ///< training images that are not broken
  int64_t train_noise_like = 0;
  int64_t val_with_content = 0;
  int64_t val_noise_like = 0;
  double train_share = 0;     ///< class-balanced share of noise-like images, training
  double val_share = 0;       ///< ... and validation (same classes)
  double standard_error = 0;  ///< of train_share − val_share
  int64_t classes_compared = 0;
  /// Training positions of the noise-like images, in split order.
  std::vector<int64_t> noise_like_train;
  double excess() const { return train_share - val_share; }
  double z() const { return standard_error > 0 ? excess() / standard_error : 0; }
};

/// Measures the shares (see the header comment).
/// `kinds`: both splits' data::odd_image_kinds when the caller has them (nullptr: computed here).
NoiseShare measure_noise_share(const data::Dataset& ds, const NoiseShareOptions& options = {},
                               const data::SplitImageKinds* kinds = nullptr);

/// The corrupt_samples finding (severity warning) when `s` clears the bars: evidence the numbers,
/// samples the noise-like training images (at most max_samples). nullopt otherwise.
std::optional<Finding> noise_share_finding(const NoiseShare& s,
                                           const NoiseShareOptions& options = {},
                                           size_t max_samples = 1000);

/// measure_noise_share and noise_share_finding, as a check of the audit (at most one finding).
std::vector<Finding> audit_noise_share(const data::Dataset& ds,
                                       const NoiseShareOptions& options = {},
                                       size_t max_samples = 1000);

}  // namespace lossdoctor::audit
