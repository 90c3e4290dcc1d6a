#pragma once
// `lossdoctor repair SPEC -o fixed.yaml`: diagnose, confirm, apply the confirmed fixes, and
// repeat until the run is healthy or no confirmed fix is left; then train the original and the
// repaired spec for the same budget and report both.
//
// Contract:
//   requires: `spec_path` names a spec that parses with `overrides`.
//   ensures:  each round diagnoses the spec with every fix so far applied (data loaded once per
//             round), confirms its top causes by counterfactual reruns, and applies the fixes of
//             the confirmed causes only (a learning-rate fix is refined by the range test when
//             `lr_find` is on and the test agrees on the direction). It stops when the verdict is
//             healthy, when no confirmed fix is left, when a fix would be applied a second time,
//             or after max_rounds. The repaired spec (original text's keys and styles, a comment
//             on each changed key naming the cause it fixes) and any exclude file it uses are
//             written atomically next to out_path; nothing is written when no fix was confirmed.
//             With `final_training`, the original and the repaired spec are each trained for the
//             original budget (capped by final_max_steps) and their final training loss and
//             validation accuracy are reported.
//   throws:   InputError for a bad spec or data (before any training).

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lossdoctor/doctor/doctor.hpp"
#include "lossdoctor/experiment/confirm.hpp"
#include "lossdoctor/report/report.hpp"
#include "lossdoctor/spec/spec_writer.hpp"

namespace lossdoctor::doctor {

struct RepairOptions {
  int max_rounds = 4;  ///< diagnose–confirm–fix rounds at most
  DiagnoseOptions diagnose;
  experiment::ConfirmOptions confirm;
  bool lr_find = true;          ///< refine learning-rate fixes with the range test
  bool final_training = true;   ///< train original and repaired for the budget at the end
  int64_t final_max_steps = 0;  ///< cap on that budget (0: the spec's epochs / max_steps)
  std::string out_path;         ///< the repaired spec (empty: write nothing)
  train::Progress progress = train::Progress::Quiet;  ///< of the final trainings
  data::WarningSink log;                              ///< one line per stage (empty: silent)
  data::WarningSink warn;                             ///< data loading warnings
};

/// One diagnose–confirm–fix round.
struct RepairRound {
  std::vector<std::string> overrides;   ///< the overrides this round ran with
  report::Report report;                ///< its diagnosis with the confirmation merged
  RunRecord record;                     ///< its diagnosis run (the HTML page draws the first)
  std::vector<spec::SpecEdit> applied;  ///< the fixes it applied (empty in the last round)
};

/// Final training figures of one spec.
struct TrainingOutcome {
  int64_t steps = 0;
  double seconds = 0;       ///< wall time, loading the data included
  double train_loss = 0;    ///< mean over the last epoch (NaN: diverged)
  double val_accuracy = 0;  ///< on the validation split (NaN: none)
  double val_loss = 0;
  std::string status;              ///< completed | non-finite loss | interrupted
  std::vector<double> loss_curve;  ///< training loss per step (the HTML report draws it)
};

struct RepairResult {
  std::string spec;
  std::vector<RepairRound> rounds;
  std::vector<spec::SpecEdit> edits;  ///< every change made, in order
  bool healthy = false;               ///< the last round's verdict
  std::string stop_reason;            ///< one sentence
  std::string out_path;               ///< written repaired spec ("" when none)
  std::optional<TrainingOutcome> before, after;
  double seconds = 0;            ///< the whole repair, final trainings included
  double plain_run_seconds = 0;  ///< one plain training run of the original (before->seconds)
  bool interrupted = false;
};

RepairResult repair(const std::string& spec_path, const std::vector<std::string>& overrides,
                    const RepairOptions& options);

nlohmann::json to_json(const RepairResult& result);

/// Terminal summary: rounds (top cause, status, fix), the changed keys, before → after.
std::string render_text(const RepairResult& result, bool color);

}  // namespace lossdoctor::doctor
