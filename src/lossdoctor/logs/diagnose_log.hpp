#pragma once
// Curve-only diagnosis: a training log → a RunRecord holding only what a log can hold → the
// same detectors, diagnoser and verdict as `diagnose`, plus curve checks for logs too short for
// the per-step detectors (one row per epoch), with honest confidence and notes saying what a log
// cannot show and which extra signal would separate the remaining causes. No torch.
//
// Contract:
//   requires: LogData from read_log (at least one training-loss value).
//   ensures:  to_record: every field a log cannot contain is "not measured" — NaN for gradient,
//             update and weight norms, input statistics, reference loss, odd-input fraction and
//             (when not logged) lr and accuracy; no layers, probes, label histograms, samples or
//             split statistics. An epoch-only log becomes one step per epoch, numbered epoch + 1
//             (the state after that epoch: never "step 0, before any update").
//             diagnose_log: report.command "diagnose-log", report.spec the log's path; findings are
//             `suspected` with confidence at most kCurveOnlyMaxConfidence; the verdict follows
//             diagnose/verdict.hpp (a hard symptom — NaN, divergence, loss at chance for the K of
//             options.num_classes — is unhealthy); num_classes 0: chance is not judged (a note
//             says so; 10 classes are never assumed). Pure, deterministic.

#include <cstdint>
#include <string>

#include "lossdoctor/logs/log_data.hpp"
#include "lossdoctor/report/report.hpp"
#include "lossdoctor/run_record.hpp"

namespace lossdoctor::logs {

/// No curve-only finding is reported above this confidence: a curve shows the symptom, not
/// which of its causes produced it.
constexpr double kCurveOnlyMaxConfidence = 0.7;

struct LogDiagnosisOptions {
  int64_t num_classes = 0;  ///< K of a classifier's cross-entropy; 0: unknown
  std::string optimizer;    ///< sgd | adam | ... when known (judges the lr against its usual range)
};

/// The log as a RunRecord (see the contract).
RunRecord to_record(const LogData& log, const LogDiagnosisOptions& options);

/// true when the record came from one row per epoch (no per-step rows).
bool is_epoch_level(const LogData& log);

/// Diagnoses a log (see the contract).
report::Report diagnose_log(const LogData& log, const LogDiagnosisOptions& options = {});

}  // namespace lossdoctor::logs
