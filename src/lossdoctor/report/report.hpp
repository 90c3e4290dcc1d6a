#pragma once
// The report every doctor command prints and writes (design.md: "lossdoctor diagnose ... --json"),
// and the JSON form of a RunRecord (for `diagnose --record`, tests and offline analysis).
//
// Contract:
//   ensures:  to_json follows design.md's shape: findings sorted by confidence (highest first),
//             `layer` null when empty, `first_step` omitted when unknown, non-finite numbers as
//             null; `injected` only when the spec injected faults. record_from_json inverts
//             record_to_json. A `confirmation` block (diagnose with confirmation) lists each
//             counterfactual arm with its measures, and the cost of the arms against the
//             diagnosis run; absent when nothing was confirmed or refuted.

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lossdoctor/finding.hpp"
#include "lossdoctor/run_record.hpp"

namespace lossdoctor::report {

/// One counterfactual rerun (an "arm") of the confirmation experiments (experiment/confirm.hpp).
struct ConfirmationArm {
  std::vector<std::string> causes;  ///< the finding(s) whose intervention this arm applies
  std::string intervention;         ///< human text: "--set optimizer.lr=0.1", "drop 412 samples"
  std::map<std::string, std::string> fix;  ///< the spec overrides applied (may be empty)
  std::string status;  ///< confirmed | refuted | inconclusive (budget or window too short)
  std::string reason;  ///< one line with the deciding numbers
  int64_t steps = 0;   ///< steps the arm ran
  int64_t window = 0;  ///< steps it would have run without an early decision
  double seconds = 0;  ///< wall time of the arm (setup + training + yardstick)
  /// How the arm was paired with the baseline: "equal steps", or "equal samples seen" when the
  /// intervention changes how many samples a step sees (batch size), with the step mapping.
  std::string yardstick = "equal steps";
  /// One paired comparison against the baseline (or, for "together", against a single arm).
  struct Measure {
    /// train_loss | val_accuracy | val_loss | rare_class_accuracy | val_accuracy_at_end
    std::string name;
    int pairs = 0;
    double t = 0, effect = 0;
    double base_start = 0, base_end = 0, arm_start = 0, arm_end = 0;
  };
  std::vector<Measure> measures;
  /// The arm's own curves, for drawing (HTML, TensorBoard): training loss per step and the
  /// yardstick's validation points (step, loss, accuracy). Not in the JSON report.
  std::vector<double> train_loss;
  struct Point {
    int64_t step = 0;
    double loss = 0, accuracy = 0;
  };
  std::vector<Point> val_points;
};

/// What the confirmation experiments did and what they cost.
struct Confirmation {
  std::vector<ConfirmationArm> arms;
  int64_t steps = 0;               ///< steps of all arms together
  double seconds = 0;              ///< wall seconds of all arms together
  int64_t diagnosis_steps = 0;     ///< steps of the diagnosis run (the baseline arm)
  double diagnosis_seconds = 0;    ///< its training seconds
  double cost_ratio = 0;           ///< seconds / diagnosis_seconds
  int64_t yardstick_size = 0;      ///< validation images per yardstick point
  int64_t eval_every = 0;          ///< steps between yardstick points
  double yardstick_seconds = 0;    ///< yardstick time inside the diagnosis run
  std::vector<std::string> notes;  ///< e.g. "act together", skipped causes
  /// The diagnosis run's yardstick points (the baseline the arms are compared with).
  std::vector<ConfirmationArm::Point> baseline_val_points;
};

struct Report {
  std::string command;  ///< lint | audit | diagnose
  std::string spec;
  std::string verdict = "healthy";  ///< healthy | unhealthy
  int64_t steps_run = 0;
  double seconds = 0;
  std::string device = "cpu";
  /// Data-parallel diagnoses: ranks and images per step over all ranks (JSON only when > 1).
  int64_t world_size = 1;
  int64_t global_batch_size = 0;
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
  /// diagnose with confirmation: the arms and their cost (absent: no confirmation ran).
  std::optional<Confirmation> confirmation;
  /// The run came from a user's own loop (a Monitor, or its RunRecord): the text report
  /// phrases fixes as loop settings (fix_as_loop_settings), not spec overrides. Not in the JSON,
  /// whose `fix` keeps the override keys.
  bool custom_loop = false;
};

nlohmann::json confirmation_to_json(const Confirmation& confirmation);

nlohmann::json finding_to_json(const Finding& finding);
nlohmann::json symptom_to_json(const Symptom& symptom);
nlohmann::json to_json(const Report& report);

/// Terminal rendering: verdict, findings (top first) with evidence and fix, notes.
std::string render_text(const Report& report, bool color);

/// A fix as one `--set` line: "--set optimizer.lr=0.001 --set batch_size=32".
std::string fix_as_overrides(const std::map<std::string, std::string>& fix);

/// A fix in a training loop's terms, for a run from a user's own loop: "DataLoader(batch_size=32),
/// optimizer lr=0.001". Keys without a loop phrasing stay as "key=value".
std::string fix_as_loop_settings(const std::map<std::string, std::string>& fix);

nlohmann::json record_to_json(const RunRecord& record);
RunRecord record_from_json(const nlohmann::json& json);

}  // namespace lossdoctor::report
