#pragma once
// The report every doctor command prints and writes (design.md: "lossdoctor diagnose ... --json"),
// and the JSON form of a RunRecord (for `diagnose --record`, tests and offline analysis).
//
// Contract:
//   ensures:  to_json follows design.md's shape: findings sorted by confidence (highest first),
//             `layer` null when empty, `first_step` omitted when unknown, non-finite numbers as
//             null; `injected` only when the spec injected faults. record_from_json inverts
//             record_to_json.

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lossdoctor/finding.hpp"
#include "lossdoctor/run_record.hpp"

namespace lossdoctor::report {

struct Report {
  std::string command;  ///< lint | audit | diagnose
  std::string spec;
  std::string verdict = "healthy";  ///< healthy | unhealthy
  int64_t steps_run = 0;
  double seconds = 0;
  std::string device = "cpu";
  std::vector<Finding> findings;
  std::vector<Symptom> symptoms;
  std::vector<std::string> notes;
  std::map<std::string, std::vector<int64_t>> injected;  ///< label_noise, corrupt
  /// diagnose: the top cause at each check during the run (step, cause, confidence), so
  /// benchmarks can tell when the right cause first reached the top.
  struct TimelineEntry {
    int64_t step = 0;
    std::string cause;
    double confidence = 0;
  };
  std::vector<TimelineEntry> timeline;
};

nlohmann::json finding_to_json(const Finding& finding);
nlohmann::json symptom_to_json(const Symptom& symptom);
nlohmann::json to_json(const Report& report);

/// Terminal rendering: verdict, findings (top first) with evidence and fix, notes.
std::string render_text(const Report& report, bool color);

/// A fix as one `--set` line: "--set optimizer.lr=0.001 --set batch_size=32".
std::string fix_as_overrides(const std::map<std::string, std::string>& fix);

nlohmann::json record_to_json(const RunRecord& record);
RunRecord record_from_json(const nlohmann::json& json);

}  // namespace lossdoctor::report
