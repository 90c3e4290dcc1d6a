#pragma once
// Cause rules: what the record's own signals say for and against each cause, one unit per cause
// (src/lossdoctor/diagnose/rules/<cause>.cpp), like the symptom detectors.
//
// The diagnoser gathers evidence in one pass — the symptom table and the static (lint, audit)
// findings, generically, then every rule of cause_rules() — and applies penalties only after
// all evidence is in. A rule therefore never looks at other causes' candidates: it reads the
// RuleContext and writes into the Collector.
//
// Contract (every rule):
//   requires: a RuleContext built by make_rule_context from one record, its symptoms and its
//             static findings.
//   ensures:  adds evidence only to its own cause (lines carry the numbers; weights and
//             thresholds from ctx.options.<cause>), and penalties only against its own cause,
//             each with the reason that is shown as "against: ...". Deterministic, no I/O,
//             no torch. Silent on a healthy record.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lossdoctor/diagnose/diagnoser.hpp"
#include "lossdoctor/diagnose/signals.hpp"
#include "lossdoctor/finding.hpp"
#include "lossdoctor/run_record.hpp"

namespace lossdoctor::diagnose {

/// What every rule reads: the run, its signals, its symptoms and static findings, the options,
/// and the run's behaviour, judged once.
struct RuleContext {
  const RunRecord& record;
  const RecordSignals& signals;
  const std::vector<Symptom>& symptoms;
  const std::vector<Finding>& lint;
  const std::vector<Finding>& audit;
  const DiagnoserOptions& options;
  /// A symptom of options.unstable_symptoms (NaN, divergence, oscillation, spikes, exploding
  /// gradients).
  bool unstable = false;
  /// A symptom of options.stalled_symptoms, or a classifier still above
  /// options.stalled_chance_fraction × ln K after options.stalled_min_steps steps.
  bool stalled = false;
  /// Median update ratio below options.small_update_ratio after options.update_ratio_min_steps.
  bool sluggish = false;

  bool has(const std::string& symptom_id) const;
  /// The first symptom with that id, or nullptr.
  const Symptom* find(const std::string& symptom_id) const;
  /// Some lint finding names that cause.
  bool lint_has(const std::string& cause) const;
};

/// The context of one diagnosis; `signals` must be read_signals(record) and outlive it.
RuleContext make_rule_context(const RunRecord& record, const RecordSignals& signals,
                              const std::vector<Symptom>& symptoms,
                              const std::vector<Finding>& lint, const std::vector<Finding>& audit,
                              const DiagnoserOptions& options);

/// Evidence for one cause; confidence = (1 − Π(1 − wᵢ)) × Π(1 − penaltyⱼ). Penalties are not
/// added here but through Collector::penalise, which applies them after all evidence.
class Candidate {
 public:
  std::string cause;
  std::vector<std::string> symptoms;
  std::optional<int64_t> first_step;
  std::string layer;
  std::map<std::string, std::string> fix;
  std::vector<int64_t> samples;  ///< flagged training samples (from the data audit)

  /// Evidence from the run itself: weight (clamped to options.max_evidence_weight) and a line.
  void add(double weight, const std::string& why);
  /// A symptom as evidence: weight × (floor + (1 − floor) × severity); its evidence lines, its
  /// first step and its layer join the candidate's.
  void add(double weight, const Symptom& s);
  /// Evidence from the spec or the data alone: weighs like add() but is not an observation of
  /// the run (see `observed`).
  void add_static(double weight, const std::string& why);
  /// A line ranked like evidence of that weight, adding no weight itself.
  void note(double weight, const std::string& why);

  /// Some evidence came from the run itself, not only from the spec or the data.
  bool observed() const { return observed_; }
  /// Some evidence came from a lint (spec) or audit (data) finding.
  bool raised_by_spec_or_data() const { return static_; }
  double confidence() const { return (1.0 - miss_) * keep_; }
  /// Evidence lines, weightiest first, the evidence against last.
  std::vector<std::string> ordered_evidence() const;

 private:
  friend class Collector;
  Candidate(std::string cause_id, double max_weight, double severity_floor);
  void weigh(double weight);
  void apply_penalty(double penalty, const std::string& why);

  double max_weight_ = 0.99;
  double severity_floor_ = 0.5;
  double miss_ = 1.0;  ///< Π(1 − wᵢ)
  double keep_ = 1.0;  ///< Π(1 − penaltyⱼ)
  bool observed_ = false;
  bool static_ = false;
  /// Evidence lines with the weight they carried (penalties: −p).
  std::vector<std::pair<double, std::string>> evidence_;
};

/// What the symptom table, the static findings and the rules say, per cause. Evidence goes in
/// at once; penalties wait in a queue until apply_penalties(), which applies each to its cause
/// if that cause has a candidate (a penalty alone creates none).
class Collector {
 public:
  explicit Collector(const DiagnoserOptions& options);
  /// The candidate of a cause, created empty on first use: add evidence to it.
  Candidate& evidence(const std::string& cause);
  /// Evidence against a cause, applied after all evidence (see apply_penalties).
  void penalise(const std::string& cause, double penalty, const std::string& why);
  /// Applies every queued penalty to its cause's candidate, where there is one; clears the
  /// queue. Penalties multiply, so their order does not matter.
  void apply_penalties();
  std::map<std::string, Candidate>& candidates() { return candidates_; }
  const std::map<std::string, Candidate>& candidates() const { return candidates_; }

 private:
  struct Penalty {
    std::string cause;
    double penalty;
    std::string why;
  };
  double max_weight_, severity_floor_;
  std::map<std::string, Candidate> candidates_;
  std::vector<Penalty> penalties_;
};

using RuleFn = void (*)(const RuleContext&, Collector&);

struct CauseRule {
  std::string cause;  ///< the cause id it speaks for and against
  /// Its record-signal evidence and penalties; nullptr for a cause whose evidence is only the
  /// symptom table and the static findings (its doc section says so).
  RuleFn apply = nullptr;
};

/// One rule per cause id of cause_ids() except `healthy`, in that order.
const std::vector<CauseRule>& cause_rules();

/// Runs every rule (evidence and queued penalties; penalties are not applied yet).
void run_cause_rules(const RuleContext& ctx, Collector& out);

// One function per cause with record signals (src/lossdoctor/diagnose/rules/<cause>.cpp).
void rule_label_noise(const RuleContext&, Collector&);
void rule_corrupt_samples(const RuleContext&, Collector&);
void rule_unnormalized_input(const RuleContext&, Collector&);
void rule_class_imbalance(const RuleContext&, Collector&);
void rule_bad_init_scale(const RuleContext&, Collector&);
void rule_missing_normalization(const RuleContext&, Collector&);
void rule_saturating_activation(const RuleContext&, Collector&);
void rule_lr_too_high(const RuleContext&, Collector&);
void rule_lr_too_low(const RuleContext&, Collector&);
void rule_batch_too_small(const RuleContext&, Collector&);
void rule_bad_lr_schedule(const RuleContext&, Collector&);
void rule_grad_clip_too_tight(const RuleContext&, Collector&);
void rule_gradients_not_reset(const RuleContext&, Collector&);
void rule_params_not_updated(const RuleContext&, Collector&);
void rule_loss_sign_flipped(const RuleContext&, Collector&);
void rule_model_in_eval_mode(const RuleContext&, Collector&);
void rule_loss_output_mismatch(const RuleContext&, Collector&);
// Data-parallel records (RunRecord::distributed).
void rule_same_data_on_every_rank(const RuleContext&, Collector&);
void rule_shard_not_reshuffled(const RuleContext&, Collector&);
void rule_rank_specific_data_fault(const RuleContext&, Collector&);
void rule_lr_not_scaled_for_global_batch(const RuleContext&, Collector&);
void rule_replicas_diverged(const RuleContext&, Collector&);

// Signals one rule adds as evidence and another rule's penalty reads: defined once, in the file
// of the rule whose evidence they are.

/// Inputs reach the model at raw pixel magnitudes (rules/unnormalized_input.cpp).
bool inputs_look_raw(const RuleContext& ctx);
/// The share of the training images that counts as corrupt (rules/corrupt_samples.cpp): the
/// broken ones and the noise-like ones as far as the model fails to learn them, of the images a
/// probe looked at; the probes' batch share (odd_input_fraction) when no image was looked at one
/// by one. `how` says how the noise-like images were weighed (empty when they were not).
struct CorruptShare {
  double share = 0;
  std::string how;
  /// The fraction of the noise-like images that counts as corrupt (0 when the first-sight test
  /// could not judge them, found they carry their labels, or noise is the data's nature):
  /// confirmation drops noise-like images only when it is above 0.
  double noise_like_counted = 0;
};
CorruptShare corrupt_share(const RecordSignals& sig, const DiagnoserOptions::CorruptSamples& o);

/// Whether noise-like images are what this data looks like (none of them is then corruption):
/// more than `noise_like_data_share` of the validation split's images look like noise when the
/// record has both splits' shares (injected noise reaches the training split only: held-out zoo
/// 15's s24-corrupt-noise-75 was 78.6% noise-like in training against 15.2% in validation), of
/// the training images looked at (`train_share`, those with content) otherwise.
bool noise_is_the_datas_nature(const std::optional<NoiseLikeShares>& shares, double train_share,
                               const DiagnoserOptions::CorruptSamples& o);

/// The training split's class-balanced share of noise-like images above validation's, less
/// `noise_like_excess_z` standard errors (0 when none): at most this share of the training
/// images can be injected noise (the data's own look is in both splits).
double noise_like_excess(const NoiseLikeShares& shares, const DiagnoserOptions::CorruptSamples& o);

/// Of a group of training images predicted right at first sight at rate b, the share that
/// carries no label, against a reference group at rate a and chance c: (a − b) / (a − c), with
/// its standard error (delta method, binomial rates). `judged` is false when either group has
/// no accuracy (fewer than kMinLookGroup judged) or a is not above chance by
/// options.clean_above_chance_z standard errors: before the model has learned, neither group is
/// predicted (rules/corrupt_samples.cpp).
struct UnlabelledShare {
  bool judged = false;
  double estimate = 0, standard_error = 0;
};
UnlabelledShare unlabelled_share(const FirstSight& reference, const FirstSight& group,
                                 double chance, const DiagnoserOptions::CorruptSamples& o);

/// The first non-finite value of the run is in the input batch (rules/corrupt_samples.cpp).
bool nan_entered_with_input(const RuleContext& ctx);
/// A Monitor loop's optimiser leaves the weights unchanged (rules/params_not_updated.cpp).
bool weights_never_move(const RuleContext& ctx);
/// A Monitor loop's gradients pile up instead of being reset (rules/gradients_not_reset.cpp).
bool gradients_accumulate(const RuleContext& ctx);

/// Shared number format of evidence lines (3 significant digits).
std::string fmt_num(double v);

}  // namespace lossdoctor::diagnose
