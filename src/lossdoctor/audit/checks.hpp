#pragma once
// Data audit: checks that look only at the data (and the spec's data section), never at a run.
// Each check returns findings with cause ids of design.md; an audit finding lists the train
// indices it flags in `samples` (at most max_samples, most extreme first; the total count is in
// the evidence, and when some are left out an evidence line says how many: see
// abbreviate_samples). run_audit runs the checks without a cap so that exclude.txt gets every
// flagged sample, and abbreviates only the report.
// See docs/audit.md for what each check measures and how its thresholds were chosen.
//
// Contract (every check):
//   requires: a Dataset as produced by data::load_dataset (images float32 [N, C, H, W], labels
//             int64 [N]); either split may be empty.
//   ensures:  deterministic; no finding when nothing is wrong; each finding has status
//             "suspected", evidence lines with numbers, a two-sentence explanation, and samples
//             given as train positions (order of the split, i.e. the loader order without
//             shuffling).
//   throws:   std::invalid_argument for images that are not 4-D float tensors.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lossdoctor/data/dataset.hpp"
#include "lossdoctor/finding.hpp"
#include "lossdoctor/spec/spec.hpp"

namespace lossdoctor::audit {

/// Thresholds of the checks. Defaults are tuned on Fashion-MNIST (see docs/audit.md).
struct AuditOptions {
  /// Most sample indices listed in one finding (the most extreme first); the rest are counted
  /// in an evidence line (abbreviate_samples).
  size_t max_samples = 1000;
  /// Outliers: flag an image when one of its robust z-scores (median/MAD within its class) has
  /// |z| above this.
  double outlier_z = 14.0;
  /// Outliers: the threshold for the high-frequency energy feature (noise detector).
  double outlier_hf_z = 7.5;
  /// Duplicates: largest Hamming distance between two 64-bit average hashes of a near duplicate.
  int near_hamming = 4;
  /// Duplicates: a near duplicate must also have 8×8 thumbnails within this mean absolute
  /// difference, as a fraction of the value range.
  double near_thumb_diff = 0.02;
  /// Ordering: runs-test z below -ordering_z (too few label runs) flags unshuffled data.
  double ordering_z = 4.0;
  /// Preparation: images per split that are prepared and compared.
  int64_t prep_samples = 2000;
  /// Preparation: |mean difference| / pooled pixel std above this flags a mismatch.
  double prep_mean_effect = 0.25;
  /// Preparation: std ratio (larger / smaller) above this flags a mismatch.
  double prep_std_ratio = 1.5;
  /// Balance: max/min train class count above this flags class imbalance.
  double imbalance_ratio = 4.0;
  /// Balance, below imbalance_ratio: a class whose share of the training split is below this
  /// fraction of its share of the validation split (which holds at least
  /// shift_min_val_images of it) is an info worth a rerun: the model is trained on other class
  /// proportions than it is judged on.
  double shift_share_ratio = 0.5;
  int64_t shift_min_val_images = 20;
  /// The shift finding's confidence: lint's for an info (a value unusual enough to test).
  double shift_confidence = 0.35;
};

/// Something worth telling that is not a training fault (e.g. train/val leakage).
struct AuditNote {
  std::string text;              ///< one line with numbers
  std::vector<int64_t> samples;  ///< train positions involved (capped)
};

/// All findings (sorted by confidence, highest first) and notes of run_checks.
struct AuditResult {
  std::vector<Finding> findings;
  std::vector<AuditNote> notes;
  /// Wall seconds of each phase of run_checks, in order (e.g. {"stats", 0.21}), for benchmarks.
  std::vector<std::pair<std::string, double>> phase_seconds;
};

/// corrupt_samples (error): NaN/Inf pixels, constant images (std 0) and labels outside
/// [0, num_classes), in either split. Samples: flagged train positions.
std::vector<Finding> audit_integrity(const data::Dataset& ds, const AuditOptions& opt = {});

/// corrupt_samples (warning): images whose brightness, contrast, saturation fraction or
/// high-frequency energy is extreme for their class (robust z-score). Images already flagged by
/// audit_integrity are skipped. Samples: most extreme first.
std::vector<Finding> audit_outliers(const data::Dataset& ds, const AuditOptions& opt = {});

/// label_noise for duplicate images (exact byte duplicates or near duplicates) carrying
/// different labels; train duplicates and train/val leakage become notes (appended to `notes`
/// when it is not null). Constant and non-finite images are left to audit_integrity.
std::vector<Finding> audit_duplicates(const data::Dataset& ds, std::vector<AuditNote>* notes,
                                      const AuditOptions& opt = {});

/// unshuffled_data when `shuffle` is false and the train label sequence has far fewer runs
/// than a random order would (multi-category Wald–Wolfowitz runs test).
std::vector<Finding> audit_ordering(const data::Dataset& ds, bool shuffle,
                                    const AuditOptions& opt = {});

/// preprocessing_mismatch when train and val, each prepared by the deterministic steps of its
/// own pipeline, differ in per-channel mean or std (Welch t on per-image means, effect size,
/// std ratio), reporting the diff of the two pipelines' deterministic steps. Fix: the train
/// deterministic steps for data.transforms.val when the val transforms were given explicitly.
std::vector<Finding> audit_preparation(const data::Dataset& ds, const spec::DataSpec& spec,
                                       const AuditOptions& opt = {});

/// class_imbalance when the largest train class is more than imbalance_ratio times the
/// smallest (an empty class counts as infinitely rare); otherwise an info (shift_confidence)
/// when some class is under-represented in training relative to validation
/// (shift_share_ratio; session 16: held-out zoo 9's hard-k11-imbalance-70, one class cut to
/// 30% in training only, ratio 3.3, was healthy on every seed).
std::vector<Finding> audit_balance(const data::Dataset& ds, const AuditOptions& opt = {});

/// Images per class of a split (labels outside [0, num_classes) not counted); the balance check
/// and the HTML report's class-balance chart.
std::vector<int64_t> class_counts(const data::Split& s, int64_t num_classes);
/// A class's name, or its index when the data set names none.
std::string class_name(const data::Dataset& ds, int64_t c);

/// Runs every check above (ordering with spec.shuffle) and audit_noise_share (noise_share.hpp), and
/// sorts findings by confidence. The per-image statistics (finiteness, range, mean, std, neighbour
/// differences, byte hash) are computed once per split in one pass over the pixels (parallel over
/// images with at::parallel_for) and shared by integrity, outliers and duplicates; the findings and
/// notes are exactly those of the individual functions, which compute the statistics themselves.
/// Throws std::invalid_argument like the checks, before any of them runs.
AuditResult run_checks(const data::Dataset& ds, const spec::DataSpec& spec,
                       const AuditOptions& opt = {});

/// Keeps the first `max_samples` of f.samples. When that leaves some out, appends the evidence
/// line "samples lists the first K of N flagged (M omitted[; where_all])", so a reader of the
/// report knows the list is not the whole story (`where_all` says where the full list is, e.g.
/// "exclude.txt holds every one"). Returns M (0 when nothing was left out).
size_t abbreviate_samples(Finding& f, size_t max_samples, const std::string& where_all = "");

/// The deterministic steps as a YAML flow list, e.g. "[{scale: 0.00392156862745098}]".
std::string transforms_to_yaml(const std::vector<spec::TransformSpec>& steps);

}  // namespace lossdoctor::audit
