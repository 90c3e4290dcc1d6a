#pragma once
// `lossdoctor audit SPEC`: every data check (integrity, outliers, duplicates and leakage,
// ordering, train/val preparation, class balance) plus label issues from cross-validated
// predictions, as one report; with an output directory also exclude.txt and a contact sheet.
//
// Contract:
//   requires: a validated spec.
//   ensures:  findings sorted by confidence, each with its samples (train positions) and
//             evidence; verdict "unhealthy" iff some finding reaches confidence 0.5.
//             The label check's label_noise finding lists every suspect; every other finding
//             lists at most checks.max_samples and, when it leaves some out, says how many in an
//             evidence line (abbreviate_samples). exclude.txt, label_scores.csv and the contact
//             sheet's counts are built from the full lists, never the abbreviated ones.
//             Files skipped by data.skip_bad_images are counted in a note.
//             With out_dir: exclude.txt lists the *source* indices (what data.train.exclude reads)
//             of positions_to_exclude (corrupt samples, the *confident* label suspects of every
//             cross-validation round and the duplicate-conflict members the label check also
//             suspects), and contact_sheet.png shows the most extreme flagged images per finding
//             with index, given and suggested label. When the label check ran, also
//             label_scores.csv (per training position: source index, given label, last round's
//             out-of-sample P(given), argmax and its P, suspect rank or -1, 1 if the refit round
//             trained without it) and label_noise_matrix.csv (estimated P(given = row,
//             true = column)); when it did not, those two files are removed from out_dir (an
//             earlier audit's scores would not match this exclude.txt).
//             Files are written atomically.
//   throws:   InputError for bad spec or data (DataError, exit 2, for an empty training split
//             too: load_dataset refuses it).

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "lossdoctor/audit/checks.hpp"
#include "lossdoctor/audit/label_agreement.hpp"
#include "lossdoctor/audit/label_issues.hpp"
#include "lossdoctor/data/dataset.hpp"
#include "lossdoctor/report/html.hpp"
#include "lossdoctor/report/report.hpp"
#include "lossdoctor/spec/spec.hpp"

namespace lossdoctor::audit {

struct AuditRunOptions {
  bool label_issues = true;  ///< run the cross-validated label check (the slow one that trains)
  LabelIssueOptions labels;
  /// Run the cross-split label agreement (small models fitted to the validation labels; seconds).
  bool label_agreement = true;
  AgreementOptions agreement;
  AuditOptions checks;
  std::string out_dir;  ///< empty: no files
  /// exclude.txt takes a label suspect only when its out-of-sample P(given) is below this (the
  /// finding still lists every suspect; the refit round's dropped samples go in as well).
  /// Chosen on the 12k bench, seed 0, 20% noise: dropping the suspects below chance (1/K) also
  /// drops ~300 hard clean samples and recovered less of the accuracy lost to the noise
  /// (docs/label_issues.md). 1: every suspect.
  double exclude_below = 0.05;
  data::WarningSink progress;
  /// When set, filled for the HTML report: flagged images (PNG, at most kGalleryImages), class
  /// counts, per-channel statistics of both splits as stored, the label-noise matrix.
  report::AuditView* view = nullptr;
};

/// The train positions exclude.txt drops: every sample of a corrupt_samples finding in
/// `data_check_findings` (run_checks' findings); when `label_finding_reported`, the label check's
/// suspects whose P(given) is below `exclude_below` and the samples its refit round trained
/// without (`issues.refit_dropped`: an earlier round's P(given) < refit_drop_below); and of the
/// duplicate check's label_noise finding (groups of (near-)identical images with different labels)
/// only the members the label check also suspects, since the other members are mostly the correctly
/// labelled copy. Without a label check (`issues.pred_probs` undefined) every such member.
std::set<int64_t> positions_to_exclude(const std::vector<Finding>& data_check_findings,
                                       const LabelIssues& issues, bool label_finding_reported,
                                       double exclude_below);

/// The duplicate check's label_noise finding (groups of (near-)identical images with different
/// labels) lists every member, but at most one label of a group can be right. Once the label check
/// ran, keeps only the members it suspects too (on the 12k bench at 20% noise, seed 0: 97 of 228
/// members, all of them flips; the others are mostly the correctly labelled copy) and says so in
/// the evidence. positions_to_exclude applies the same filter to its copy of the findings. Call it
/// before adding the label check's own finding: it filters every label_noise finding in `findings`.
void list_only_suspected_duplicates(std::vector<Finding>& findings, const LabelIssues& issues);

report::Report run_audit(const spec::Spec& spec, const AuditRunOptions& options,
                         const data::WarningSink& warn = {});

}  // namespace lossdoctor::audit
