#pragma once
// The doctor: the top stage, orchestrating the ones below it (probe, lint, audit, diagnose,
// experiment). Entry points over a spec: lint (no training), diagnose (a probed training run
// within a step budget, stopped early once the diagnosis is settled or the run clearly healthy)
// and diagnose_and_confirm (diagnose, then the counterfactual reruns of experiment::confirm).
//
// Contract:
//   requires: a validated spec.
//   ensures:  the report follows design.md; `injected` lists what data.inject did; lint takes
//             no training step. diagnose stops at the budget, on a non-finite loss, on Ctrl-C,
//             or when the same verdict and top cause held for kSettleChecks checks in a row
//             (a fault after min_steps; "healthy", or a loss at chance without NaN or
//             divergence, after healthy_min_steps: a slow start may still take off) and,
//             without a hard symptom, the schedule will not drive the rate in the rest of the
//             budget above twice the highest rate so far (train::rate_rises_ahead).
//   throws:   InputError for bad spec or data (before any training).
//   diagnose_and_confirm: loads the data once, attaches a Yardstick to the diagnosis, diagnoses,
//     and confirms when `confirm` (default: spec.diagnose.confirm) and the run was not
//     interrupted; returns the merged report (command "diagnose"), whose verdict is the verdict
//     rule's after confirmation (diagnose/verdict.hpp). A run diagnosed healthy is screened:
//     its weak suspicions (DiagnoseOutcome::to_screen) are confirmed like findings, so a fault
//     too mild to show as a symptom is still caught when its fix measurably helps; a refuted
//     or undecided one leaves the run healthy. A run diagnosed unhealthy whose every finding is
//     refuted has its spec's or data's weak suspicions screened the same way afterwards (late
//     screening, experiment::append_screening). With DiagnoseOptions::lr_bracket, a
//     healthy-looking run without a hard symptom also screens the learning-rate bracket after
//     its own suspicions.
//     Data-parallel (diagnose.group): every rank calls it; rank 0 diagnoses, decides and judges
//     the reruns (experiment::confirm with the group) while the other ranks train each one with
//     it (experiment::follow_confirm), so only rank 0's result holds a confirmation. Throws
//     train::DistributedError when a peer is lost.

#include <string>

#include "lossdoctor/experiment/confirm.hpp"
#include "lossdoctor/report/report.hpp"
#include "lossdoctor/run_record.hpp"
#include "lossdoctor/spec/spec.hpp"
#include "lossdoctor/train/trainer.hpp"

namespace lossdoctor::doctor {

struct DiagnoseOptions {
  std::optional<int64_t> budget_steps;  ///< default: spec.diagnose.budget_steps
  train::Progress progress = train::Progress::Auto;
  bool early_stop = true;
  int64_t check_every = 25;         ///< steps between diagnosis checks
  int64_t min_steps = 100;          ///< no early stop before this
  int64_t healthy_min_steps = 250;  ///< no early "healthy" stop before this
  /// Run the label agreement across the splits with the data checks (audit/label_agreement.hpp:
  /// two small CNNs fitted to the validation labels; a few seconds, docs/BENCHMARKS.md).
  bool label_agreement = true;
  /// The learning-rate bracket (diagnose/lr_bracket.hpp), opt-in (`--lr-bracket`): a run that
  /// looks healthy and shows no hard symptom also has lr_too_low (rate × lr_bracket) and
  /// lr_too_high (÷ lr_bracket) screened, after its own suspicions and within the same cost
  /// budget. 0: off (the default: on the zoos' healthy controls a 3× higher rate often trains
  /// meaningfully better within the budget, docs/confirm.md).
  double lr_bracket = 0;
  /// Already loaded data for the spec (see train::TrainOptions::dataset); nullptr: load it.
  const data::Dataset* dataset = nullptr;
  /// More observers for the diagnosis run (e.g. the experiments' yardstick); not owned, called
  /// after the probe.
  std::vector<train::TrainObserver*> extra_observers;
  /// Data-parallel diagnosis (docs/distributed.md): this rank's group (not owned). Every rank
  /// trains its shard with the probes on and the per-rank figures are gathered
  /// (RunRecord::distributed); rank 0 alone lints, audits and decides the early stop (for all
  /// ranks). Every rank returns a report; only rank 0's is meant to be shown. nullptr: one
  /// process.
  train::ProcessGroup* group = nullptr;
};

struct DiagnoseOutcome {
  report::Report report;
  RunRecord record;
  bool interrupted = false;
  /// The weak suspicions worth a rerun (diagnose::Diagnosis::to_screen).
  std::vector<Finding> to_screen;
  /// Causes lint raised only at its info tier and the audit did not raise
  /// (experiment::ConfirmOptions::weak_spec_causes).
  std::vector<std::string> weak_spec_causes;
};

report::Report lint(const spec::Spec& spec, const data::WarningSink& warn = {});

/// The causes of `lint_findings` raised at severity "info" only (no warning or error finding of
/// the same cause) and absent from `audit_findings`, sorted and unique. Pure.
std::vector<std::string> weak_spec_causes(const std::vector<Finding>& lint_findings,
                                          const std::vector<Finding>& audit_findings);

DiagnoseOutcome diagnose(const spec::Spec& spec, const DiagnoseOptions& options,
                         const data::WarningSink& warn = {});

struct DiagnoseAndConfirm {
  report::Report report;
  RunRecord record;
  bool interrupted = false;
  std::optional<experiment::ConfirmResult> confirmation;  ///< absent when not asked or interrupted
};

DiagnoseAndConfirm diagnose_and_confirm(const spec::Spec& spec, DiagnoseOptions diagnose,
                                        const experiment::ConfirmOptions& options,
                                        std::optional<bool> confirm = std::nullopt,
                                        const data::WarningSink& warn = {});

}  // namespace lossdoctor::doctor
