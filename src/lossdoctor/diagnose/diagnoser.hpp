#pragma once
// The diagnoser: symptoms (from the detectors) + lint findings + record signals → ranked causes.
//
// Contract:
//   requires: symptoms computed from the same record (detect_symptoms); lint findings of the
//             run's spec and audit findings of its data (either may be empty, e.g. for Monitor
//             users). Static findings weigh like lint: they add evidence (prefixed "spec: " or
//             "data: "), their fixes and flagged samples, but alone do not count as observed.
//   ensures:  one Finding per cause whose confidence reaches kReportThreshold, sorted by
//             confidence; each carries the symptoms and numbers behind it, the first step and
//             layer when they apply, a two-sentence explanation and a fix (spec overrides).
//             The verdict is decide_verdict's (verdict.hpp): "unhealthy" on a hard symptom or
//             a finding at kUnhealthyThreshold; otherwise "healthy" with one `healthy` finding
//             holding the evidence for that verdict.
//             Overfitting becomes a note, never a finding. Pure, deterministic, no torch.

#include <string>
#include <vector>

#include "lossdoctor/finding.hpp"
#include "lossdoctor/run_record.hpp"

namespace lossdoctor::diagnose {

constexpr double kReportThreshold = 0.3;
/// With a hard symptom (verdict.hpp) weaker suspicions are reported too, for confirmation to test.
constexpr double kHardSymptomReportThreshold = 0.15;
constexpr double kUnhealthyThreshold = 0.5;  ///< = VerdictOptions::unhealthy_confidence

struct Diagnosis {
  std::string verdict = "healthy";
  std::vector<Finding> findings;
  std::vector<std::string> notes;
};

Diagnosis diagnose(const RunRecord& record, const std::vector<Symptom>& symptoms,
                   const std::vector<Finding>& lint_findings,
                   const std::vector<Finding>& audit_findings = {});

/// The `healthy` finding: the evidence for the verdict (loss path, validation accuracy against
/// chance for the record's K, symptoms too weak to matter, the verdict rule's reason).
Finding healthy_finding(const RunRecord& record, const std::vector<Symptom>& symptoms,
                        double confidence, const std::string& reason);

/// Two-sentence explanation of a cause (docs/diagnoses.md has the long form).
std::string explain_cause(const std::string& cause);

}  // namespace lossdoctor::diagnose
