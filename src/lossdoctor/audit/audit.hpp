#pragma once
// `lossdoctor audit SPEC`: every data check (integrity, outliers, duplicates and leakage,
// ordering, train/val preparation, class balance) plus label issues from cross-validated
// predictions, as one report; with an output directory also exclude.txt and a contact sheet.
//
// Contract:
//   requires: a validated spec.
//   ensures:  findings sorted by confidence, each with its samples (train positions) and
//             evidence; verdict "unhealthy" iff some finding reaches confidence 0.5.
//             The label_noise finding lists every suspect (not capped by max_samples).
//             With out_dir: exclude.txt lists the *source* indices (what data.train.exclude reads)
//             of the samples flagged as corrupt or mislabelled, and contact_sheet.png shows the
//             most extreme flagged images per finding with index, given and suggested label.
//             When the label check ran, also label_scores.csv (per training position: source
//             index, given label, out-of-sample P(given), argmax and its P, suspect rank or -1)
//             and label_noise_matrix.csv (estimated P(given = row, true = column)).
//             Files are written atomically.
//   throws:   InputError for bad spec or data.

#include <string>

#include "lossdoctor/audit/checks.hpp"
#include "lossdoctor/audit/label_issues.hpp"
#include "lossdoctor/data/dataset.hpp"
#include "lossdoctor/report/report.hpp"
#include "lossdoctor/spec/spec.hpp"

namespace lossdoctor::audit {

struct AuditRunOptions {
  bool label_issues = true;  ///< run the cross-validated label check (the only one that trains)
  LabelIssueOptions labels;
  AuditOptions checks;
  std::string out_dir;  ///< empty: no files
  data::WarningSink progress;
};

report::Report run_audit(const spec::Spec& spec, const AuditRunOptions& options,
                         const data::WarningSink& warn = {});

}  // namespace lossdoctor::audit
