#pragma once
// The verdict rule: healthy or unhealthy, decided from the findings after any confirmation and
// from the hard symptoms. One pure function, used by the diagnoser (before confirmation) and by
// the confirmation (after it), so both say the same thing about the same evidence.
//
// The rule (docs/diagnoses.md, "The verdict"):
//   1. A hard symptom makes the run unhealthy whatever the findings say: a non-finite loss
//      (nan_loss), a diverging loss (diverging_loss), or a loss or validation accuracy at chance
//      for the data's number of classes K (plateau_at_chance: ln K, 1/K).
//   2. Otherwise the run is unhealthy iff some finding (not `healthy`) is
//        - confirmed by its counterfactual rerun, or
//        - suspected (not rerun, or its rerun undecided) with confidence ≥ unhealthy_confidence.
//      A refuted finding never makes a run unhealthy: its rerun showed that removing the cause
//      does not help. It stays in the report as a refuted suspicion with its numbers.
//   3. Otherwise healthy.
//
// Contract:
//   requires: findings with status suspected | confirmed | refuted; symptoms of the same run.
//   ensures:  verdict "healthy" or "unhealthy"; `reason` names the rule that decided and the
//             symptom or finding behind it. Pure, deterministic, no torch.

#include <string>
#include <vector>

#include "lossdoctor/finding.hpp"
#include "lossdoctor/run_record.hpp"

namespace lossdoctor::diagnose {

/// Symptoms that by themselves make a run unhealthy.
const std::vector<std::string>& hard_symptom_ids();
bool is_hard_symptom(const std::string& symptom_id);

/// Causes whose harm grows as training goes on, so that a short run cannot show it: class
/// imbalance (the rare classes are learned last; held-out zoos 4 and 7's o6-imbalance-98 and
/// b7-imbalance-97 settled at step 100, and their oversampling reruns, judged over those 100
/// steps, were refuted).
const std::vector<std::string>& causes_that_show_late();

/// Steps a diagnosis must have run before it may stop early with `top` as its answer: a fault
/// may stop after `min_steps`; "healthy", or a cause that shows late (causes_that_show_late),
/// must hold for `healthy_min_steps`, since some faults (momentum build-up, decaying schedules,
/// label noise) show late. A loss sitting at chance with
/// no other hard symptom never stops early (INT64_MAX): a long warm-up or a slow start may still
/// take off, and "at chance after the budget" is what the verdict asks.
/// Without NaN or divergence, neither answer may stop before `label_evidence_steps` either. A
/// receding divergence (Symptom::receding: a climb the loss is coming back from) counts as none.
/// Nor, without a hard symptom, while `rate_still_rising` (the schedule would drive the rate in
/// the rest of the budget well above any rate so far: the steps run say nothing of those rates;
/// the doctor computes it with train::rate_rises_ahead).
/// Nor, without a hard symptom, while `validation_at_chance` (the latest validation accuracy is
/// below the chance bar for K classes: validation_at_chance_now): the validation half of the
/// at-chance symptom judges only from step 150, and "at chance after the budget" is what the
/// verdict asks, whatever the training loss does.
int64_t early_stop_min_steps(const std::string& top, const std::vector<Symptom>& symptoms,
                             int64_t min_steps, int64_t healthy_min_steps,
                             int64_t label_evidence_steps = 0, bool rate_still_rising = false,
                             bool validation_at_chance = false);

/// Whether the record's latest validation accuracy (its last epoch's) is below
/// series::chance_accuracy_bar(K): false without K ≥ 2 or a finite validation accuracy.
bool validation_at_chance_now(const RunRecord& record);

/// Share of the training set that must have been seen twice (kRepeatSightings) before the
/// per-sample label evidence says anything: label_noise cannot be told from a lookalike earlier.
inline constexpr double kLabelEvidenceShare = 0.25;

/// Steps after which kLabelEvidenceShare of the training set has been seen twice, from the
/// record's training-set size and (global) batch size: ⌈(1 + share) × train_size / batch⌉.
/// 0 when either is unknown (a Monitor's loop, a log).
int64_t label_evidence_steps(const RunRecord& record);

struct VerdictOptions {
  /// A suspected (untested or undecided) finding at or above this confidence makes the run
  /// unhealthy. With `--no-confirm` every finding is suspected, so this is the whole rule there.
  double unhealthy_confidence = 0.5;
};

struct Verdict {
  std::string verdict = "healthy";  ///< healthy | unhealthy
  std::string reason;               ///< one line: which rule decided, on what
  bool hard_symptom = false;        ///< rule 1 fired
};

Verdict decide_verdict(const std::vector<Finding>& findings, const std::vector<Symptom>& symptoms,
                       const VerdictOptions& options = {});

}  // namespace lossdoctor::diagnose
