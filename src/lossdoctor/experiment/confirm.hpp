#pragma once
// Confirmation: for each of the top suspected causes of a diagnosis, rerun the spec from the
// same seed (same initial weights, data order and dropout masks) with the single intervention
// that removes that cause, and compare the rerun (the "arm") with the diagnosis run (the
// baseline) step by step: block means of the training loss on the log scale and a fixed
// validation subset (the Yardstick), each with a paired t and an effect size. A cause is
// `confirmed` when its intervention improves a measure significantly and meaningfully without
// significant harm on another, `refuted` when the window ends without that. See docs/confirm.md.
//
// Contract:
//   confirm:
//     requires: `diagnosis` and `record` are the report and record of a diagnosis run of `spec`
//               on `dataset` (doctor::diagnose) with `baseline` attached (or with baseline
//               empty: then only the training loss is compared); the spec was parsed from a file
//               or text (spec.resolved_yaml and spec.file are set).
//     ensures:  at most max_causes interventions are rerun (one per distinct intervention), one
//               after another (torch's generator is process-global and reseeded per step, so
//               concurrent Trainers would break the determinism the pairing needs); each arm
//               stops as soon as its comparison is decided (after min_steps) or at its window
//               (the baseline's steps; max(2s, min_steps) when the baseline turned non-finite
//               at step s, run on while the finite arm has not learned yet: runs_on_past_window,
//               within the plan and the cost budget); the data is never decoded again unless a
//               fix changes what is loaded.
//               Returned findings carry status confirmed/refuted with an evidence line holding
//               the numbers, are re-ranked (confirmed first, refuted last, confidences made
//               monotone in that order), and the confirmation block records every arm and the
//               cost against the diagnosis run. Exclude files (source indices) for flagged samples
//               are written into work_dir when it is set.
//     throws:   InputError when a fix does not parse as a spec override (naming the finding).
//   (doctor::diagnose_and_confirm runs the diagnosis with a Yardstick and then confirm.)
//   data-parallel (options.group): called on rank 0 only, while every other rank runs
//     follow_confirm; the same reruns then train on every rank (docs/distributed.md).
//     Throws train::DistributedError when a peer is lost during a rerun.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lossdoctor/data/dataset.hpp"
#include "lossdoctor/experiment/yardstick.hpp"
#include "lossdoctor/report/report.hpp"
#include "lossdoctor/run_record.hpp"
#include "lossdoctor/spec/spec.hpp"

namespace lossdoctor::experiment {

struct ConfirmOptions {
  int max_causes = 3;            ///< distinct interventions rerun, top findings first
  int64_t eval_every = 10;       ///< steps between yardstick points
  int64_t yardstick_size = 512;  ///< validation images per yardstick point
  int64_t min_steps = 50;        ///< no decision before this many arm steps
  int64_t max_window = 0;        ///< cap on an arm's steps (0: the baseline's steps)
  /// The diagnosis run's step budget (DiagnoseOptions::budget_steps): each arm stops there (the
  /// schedule is planned over the spec's own length either way, see train::TrainOptions);
  /// default: spec.diagnose.budget_steps.
  std::optional<int64_t> budget_steps;
  int64_t block = 10;                 ///< steps per block of the training-loss comparison
  double t_threshold = 3.0;           ///< |paired t| that counts as significant at the window's end
  double early_t = 4.0;               ///< the stricter |t| needed to stop an arm before its end
  double min_loss_effect = 0.10;      ///< a meaningful loss reduction (10% lower)
  double min_accuracy_effect = 0.03;  ///< a meaningful accuracy gain (3 points)
  /// A meaningful accuracy gain for a dropout arm of a weak suspicion (a cause in
  /// `weak_spec_causes`, e.g. lint's info tier for one dropout just above the classic 0.5), which
  /// is judged on validation accuracy alone (its validation loss is not compared). Any network
  /// with less dropout fits faster, and the eval-mode network it trains is more confident, so
  /// inside a short window a rerun at a lower rate gains a few points and a fifth lower
  /// validation loss even when the dropout costs the run little where it ends: tuning-zoo
  /// controls widened to 768 units with dropout 0.6 (1–4 points below their twins) gained
  /// 3.3–5.8 points at 0.25 (validation loss 16–25% lower), while the hard dropout faults of
  /// held-out zoos 10–17 (9–31 points below their twins) gained 6.8–39 points (session 34).
  /// Twice the general bar. A dropout the spec alone makes a fault (lint's warning tier: a rate
  /// of 0.8 or more, or every layer at one half or more) keeps the general bars.
  double min_dropout_accuracy_effect = 0.06;
  /// A meaningful gain in the mean validation accuracy of the classes a fix targets (the rare
  /// classes an oversampling arm repeats; Comparability::rare_classes): 10 points. On a
  /// balanced validation set a rare class's gain shows only as 1/K of it in overall accuracy.
  double min_rare_class_effect = 0.10;
  /// class_imbalance's harm seen in the baseline itself (rare_classes_unlearned): at its last
  /// yardstick point the rare classes' mean validation accuracy is still below the chance bar
  /// (diagnose::series::chance_accuracy_bar) while the other classes' is at least this much
  /// higher. A rerun that does not show the oversampling fix helping within the window then
  /// leaves the finding suspected, not refuted (held-out zoo 13's s26-imbalance-97: 19 classes of
  /// 3 images each at 0% while the 7 others were learned; session 27).
  double rare_unlearned_gap = 0.30;
  /// A placebo that drops random training images counts its drift only in the arms' favour
  /// (fewer images cost the arm that drops as many just as much: raised_by_drift) when it drops
  /// at least this share of the training split; below it, so few images cannot cost the run
  /// much through the data lost, and its drift either way is the run's own chaos, like the
  /// one-sample placebo's (held-out zoo 14's ok-n28-dropout-0.25 seed 1, ELU without batch norm
  /// on RMSprop with momentum: without 19 random images of 3024 the run ended 19 points below
  /// the baseline, and the arm without the 19 flagged ones, +13.5 points, was confirmed against
  /// a bar of 3.0; session 28).
  double drop_cost_min_share = 0.02;
  /// A run is at chance when none of its judged yardstick points rose more than this fraction
  /// of the way from chance 1/K to perfect. When the baseline and the arm both stay at chance,
  /// "no significant improvement" says nothing about the cause: the window was too short for
  /// either to leave chance (a data set whose healthy twin needs 150 steps to leave it), so
  /// the arm is inconclusive, not refuted. A significantly worse arm is still refuted.
  double at_chance_margin = 0.1;
  /// Stop starting/continuing reruns once they have trained on this many times the training
  /// samples of the diagnosis window (steps × samples per step; undecided arms stay
  /// "suspected"). Counted in samples, not seconds, so that a verdict never depends on how busy
  /// the machine is (session 7: a screened fault came out healthy under load because a
  /// wall-time budget cut its rerun). 0: no limit.
  double max_cost_ratio = 3.0;
  /// A run whose training loss exceeds this many times its first loss has blown up: judged like
  /// one that went non-finite (unusable_step), since its weights are as destroyed (held-out zoo
  /// 12's n21-sgd-lr-20, seed 1: 9 → 1e16 by step 26, every unit dead after; the lower rate's
  /// rerun learned to 26% while the paired t over the 1e16 blocks stayed at 2.6). 0: off.
  double blowup_factor = 1e4;
  bool combine = true;  ///< try the top two interventions together when neither alone decides
  /// Also judge every arm at equal steps against a placebo rerun: the diagnosis spec with one
  /// random training sample left out. Any rerun's trajectory drifts from the baseline's (a
  /// different batch order from then on); an effect the placebo shows too is that drift, not
  /// the fix. Such arms must beat both runs, and their meaningful effects (min_loss_effect,
  /// min_accuracy_effect) are raised by the placebo's own drift from the baseline (its mean
  /// accuracy difference; its larger relative loss difference). Costs one rerun of the window.
  /// The doctor sets it when it screens a run that looks healthy (doctor.hpp), where a false
  /// alarm is the risk.
  bool placebo = false;
  /// The paired measures compare only the steps from this fraction of the window on (0: the
  /// whole window). Screening sets 0.5 with early_t = ∞: a run that looks healthy is faulty
  /// only if the fix leaves it meaningfully better where it ends up, not merely faster to
  /// start (bench/zoo ok-sgd-cosine seed 3: a 10× lower rate was +8 points at step 60, before
  /// the baseline recovered from its first-steps spike).
  double judge_from_fraction = 0;
  /// A measure counts for the arm only if its effect also clears the meaningful bar at the last
  /// paired point (yardstick point or training-loss block), not only on average: where the run
  /// ends up, not a faster start or a wobble on the way. Screening sets it: a rerun of a healthy
  /// run shifts a still-steep learning curve in time or the model's confidence (held-out zoo 8's
  /// ok-t2-sgd-momentum seed 4: a 15% lower validation loss on average, 9% at the end, bar 11%;
  /// zoo 1's ok-s4-base seed 0: +7.4 points on average, +3.3 at the end, bar 4.9; session 15,
  /// after zoo 8 was scored).
  bool hold_at_end = false;
  /// Judge every data-drop arm (a rerun without flagged training images: corrupt_samples'
  /// outliers, label_noise's suspects) like screening — the second half of the window, no early
  /// stop, the effect held at the end — and against a placebo that drops as many random
  /// training images (placebo_positions) instead of one. Dropping a few dozen images of
  /// thousands changes little but the batch order, so on a noisy run one rerun's drift "confirms"
  /// it (held-out zoo 10's ok-s16-batch-10 seeds 1 and 2: 19 saturation outliers of 3200
  /// dropped, +8 points at step 110 of a batch-10 run that oscillates; session 19, zoo 10 a
  /// tuning set). The doctor sets it when the run shows no hard symptom (diagnose/verdict.hpp).
  /// Screening (`placebo`) already judges every arm so, against its one-sample placebo, which
  /// it keeps for drop arms too (a second placebo would spend the budget its other suspicions
  /// need).
  bool screen_drops = false;
  /// Causes whose interventions do not count against max_causes and are never combined with
  /// another: the doctor's learning-rate bracket (diagnose/lr_bracket.hpp), screened after a
  /// healthy-looking run's own suspicions (their findings rank below them), within the same
  /// cost budget.
  std::vector<std::string> uncounted_causes;
  /// Causes the spec raised only at lint's info tier (a value unusual enough to test, not a
  /// fault by itself) and the data did not raise: their arms need the stronger evidence a weak
  /// prior calls for (a dropout arm: min_dropout_accuracy_effect). The doctor sets them from
  /// its lint findings.
  std::vector<std::string> weak_spec_causes;
  std::string work_dir;  ///< where exclude files go (empty: not written; the rerun still drops)
  train::Progress progress = train::Progress::Quiet;  ///< of each arm's Trainer
  data::WarningSink log;  ///< one line per arm as it finishes (empty: silent)
  /// Data-parallel confirmation (docs/distributed.md): the group the diagnosis trained on (not
  /// owned). Rank 0 calls confirm(): it decides every rerun, sends each one's order to the other
  /// ranks before it trains (experiment/rerun_order.hpp), and judges it; every other rank calls
  /// follow_confirm(). Each rerun then trains on every rank in lock-step, as the diagnosis did
  /// (same global batch, shards, data order and per-rank seeds), and rank 0's judge stops it for
  /// all ranks after the same step (TrainOptions::sync_stop). nullptr: one process.
  train::ProcessGroup* group = nullptr;
  /// More observers for every rerun's Trainer on this rank (tests: a rank that dies during an
  /// arm); not owned.
  std::vector<train::TrainObserver*> rerun_observers;
};

/// A training run as the judge sees it: training loss per step and yardstick points.
struct RunSeries {
  std::vector<double> train_loss;
  std::vector<YardstickPoint> points;
  int64_t num_classes = 0;  ///< K of the classifier (0: unknown; no at-chance rule)
};

/// Which measures an intervention leaves comparable.
struct Comparability {
  bool train_loss = true;  ///< false when the fix changes the loss or which samples form a batch
  bool val_loss = true;    ///< false when the fix changes the loss function
  /// The classes the fix targets (oversampling: the rare classes of the training split, see
  /// rare_classes): when set, their mean validation accuracy is judged too
  /// (compare_class_accuracy, meaningful at min_rare_class_effect).
  std::vector<int64_t> rare_classes;
  /// The fix changes only how validation is prepared (every override data.transforms.val or
  /// under it, no sample dropped or added): the arm trains exactly like the baseline, and is
  /// judged on the paired measures over steps and on the validation accuracy at the last
  /// common point, as two proportions over the yardstick's images (compare_accuracy_at_end);
  /// against the baseline only (no placebo: there is no training drift to measure); run to its
  /// window's end even once confirmed, while the cost budget reaches it.
  bool evaluation_only = false;
  /// The least accuracy gain that counts as meaningful for this arm, whatever the options say
  /// (judge_arm raises ConfirmOptions::min_accuracy_effect to it): min_dropout_accuracy_effect
  /// for a weak suspicion's dropout arm, 0 for others.
  double accuracy_effect_floor = 0;
};

/// Whether any of an arm's overrides sets a dropout layer's rate (a key ending in
/// `.dropout.rate`, as heavy-dropout's fix writes it): for a weak suspicion
/// (ConfirmOptions::weak_spec_causes) such an arm is judged on validation accuracy alone, at
/// ConfirmOptions::min_dropout_accuracy_effect. Pure.
bool changes_dropout_rate(const std::map<std::string, std::string>& overrides);

/// What the pair of two interventions (confirm's "two causes together") is judged on: what its
/// merged changes allow (`merged`, as classified from its overrides and data changes), less every
/// measure either part was kept from. A regularisation change is judged on validation only, so
/// its pair is too: paired with a schedule change, dropout 0.6 → 0.25 was "confirmed" by a 22%
/// lower training loss at an equal validation accuracy (the first held-out zoo's f4 base with
/// dropout 0.6, a healthy run; session 33). Pure.
Comparability pair_comparability(const Comparability& a, const Comparability& b,
                                 Comparability merged);

/// The classes of `ds`'s training split with fewer than half the samples of its largest class
/// (sorted); empty without labels. An oversampling rerun repeats them up to the largest.
std::vector<int64_t> rare_classes(const data::Dataset& ds);

/// The baseline's rare classes left unlearned: their mean validation accuracy at `base`'s last
/// yardstick point with class accuracies, beside the other classes'.
struct RareClassesUnlearned {
  int64_t step = 0;
  double rare = 0, others = 0;  ///< mean validation accuracy of the rare / the other classes
  size_t rare_count = 0, others_count = 0;
};

/// Set when that point shows the rare classes (`rare`, rare_classes of the training split)
/// below series::chance_accuracy_bar(K) and the others at least `o.rare_unlearned_gap` above
/// them: the model has learned the frequent classes and not the rare ones, which is what class
/// imbalance does, observed rather than inferred. Nothing without rare classes, K ≥ 2 or a point
/// with class accuracies of both groups. Pure.
std::optional<RareClassesUnlearned> rare_classes_unlearned(const RunSeries& base,
                                                           const std::vector<int64_t>& rare,
                                                           const ConfirmOptions& o);

/// The judge's verdict on one arm at one moment.
struct Decision {
  std::string status;  ///< confirmed | refuted | undecided
  std::string reason;  ///< the deciding numbers, one line
  std::vector<PairedComparison> measures;
  /// Refuted because the arm was worse on some measure ("worse" or "mixed"), not merely no
  /// better: a validation-only fix so refuted over the steps stays refuted whatever its last
  /// point says.
  bool worse = false;
};

/// Decides an arm against the baseline (pure; unit-tested on synthetic series). `final` is true
/// at the end of the arm's window (threshold t_threshold; otherwise early_t and min_steps). An
/// accuracy gain is meaningful from the larger of options.min_accuracy_effect and
/// which.accuracy_effect_floor.
Decision judge_arm(const RunSeries& base, const RunSeries& arm, const Comparability& which,
                   int64_t window, bool final, const ConfirmOptions& options);

/// `judged` with its meaningful effects raised by a placebo's drift from the baseline
/// (`placebo_measures`: judge_arm(base, placebo, ...).measures; those with fewer than 3 pairs
/// or no finite effect are skipped): its mean accuracy difference, its larger relative loss
/// difference, its rare classes' accuracy difference. Either way for the one-sample placebo
/// (rerun noise) and one that drops under ConfirmOptions::drop_cost_min_share of the training
/// images; only in the arms' favour (the placebo better) when it drops more (`drops_many`,
/// placebo_drops_many): what fewer images cost, the arms that drop as many pay too (held-out zoo
/// 10's s16-label-noise-60: without 1148 random images of 2400 the run ended 24.9 points below the
/// baseline, and the arm without the 1148 suspects, +26.6 points on average and 49 above that
/// placebo, was held to a bar of 27.9; session 24). Pure.
ConfirmOptions raised_by_drift(ConfirmOptions judged,
                               const std::vector<PairedComparison>& placebo_measures,
                               bool drops_many);

/// Whether a placebo without `dropped` of `train_size` training images drops enough for its
/// drift against the arms to be what fewer images cost (raised_by_drift's `drops_many`): more
/// than one image and at least `o.drop_cost_min_share` of the split. Pure.
bool placebo_drops_many(size_t dropped, int64_t train_size, const ConfirmOptions& o);

/// A fault that first showed at baseline step `onset` (Finding::first_step; 0 when unknown) is
/// judged where it shows: `options` with judge_from_fraction raised to onset / window when that
/// leaves at least five yardstick points (5 × eval_every steps); unchanged otherwise. Pure.
ConfirmOptions judged_from_onset(const ConfirmOptions& options, int64_t onset, int64_t window);

/// Whether an arm may stop as refuted before its window ends, after `done` steps: not before
/// onset + min_steps (a fault cannot be repaired before it shows), unless the arm's own loss went
/// non-finite or blew up (unusable_step). Pure.
bool may_refute_early(int64_t done, int64_t onset, bool arm_unusable,
                      const ConfirmOptions& options);

/// The rate of a second, tenfold lower rerun for a rate-lowering arm (`causes` holds
/// lr_too_high, `overrides` sets optimizer.lr to a positive number) whose loss went unusable
/// (unusable_step) like the baseline's: the direction may be right and the first step too
/// short (held-out zoo 16's k29-sgd-lr-1.5, Nesterov SGD at 1.5 without batch norm: the rerun at
/// the usual 0.1 blew up at step 3 too, while its twin trains at 0.01; session 33). nullopt
/// otherwise: one step further only, so a rate that is not the cause costs one more short rerun
/// at most. Pure.
std::optional<double> second_lower_rate(const std::vector<std::string>& causes,
                                        const std::map<std::string, std::string>& overrides,
                                        const RunSeries& base, const RunSeries& arm,
                                        const ConfirmOptions& options);

/// Whether the rerun at that second, lower rate repaired the run rather than only kept a broken
/// start finite: only then does it take the first rate arm's place. Its last block of
/// options.block training losses must be below ln K, the loss of a uniform guess (held-out zoo
/// 16's k29-init-normal-0.5: at the rate ÷ 100 the N(0, 0.5²) network stayed finite and went
/// from a loss of 4.9e3 to 80, 24× ln 29, "learning" by judge_arm's measure; its fault is the
/// init). True when K is unknown (num_classes < 2). Pure.
bool lower_rate_repairs(const RunSeries& arm, int64_t num_classes, const ConfirmOptions& options);

/// Whether an arm that has run `done` steps, its window reached, runs on: every reference's loss
/// went unusable (non-finite or blew up, unusable_step), the arm's `arm` stayed usable, and it
/// does not learn yet (its last loss block not min_loss_effect below its first, its yardstick
/// accuracy not 10 points up). A finite rerun that has not learned within the short window a
/// non-finite baseline gets (max(2s, min_steps)) is absence of evidence: a SELU stack without
/// batch norm sits at ln K for ~90 steps before it learns (held-out zoo 16's
/// k29-folder-order-unshuffled, its shuffled rerun refuted at step 58 at 3 of 3 seeds; session
/// 32). Never past `options.max_window` (when set); the arm's plan and the cost budget bound it
/// too. Pure.
bool runs_on_past_window(const std::vector<const RunSeries*>& refs, const RunSeries& arm,
                         int64_t done, const ConfirmOptions& options);

/// The reference `ref` as seen from an arm whose steps each see `ratio` times the samples of a
/// reference step (a batch-size intervention): arm step s is paired with reference step
/// s × ratio, so both have seen the same number of samples. Training losses take the nearest
/// reference step; yardstick points (at arm steps 0, eval_every, 2·eval_every, ... ≤ arm_steps)
/// are interpolated linearly between the reference's points. Only arm steps whose partner lies
/// within the reference are returned. Pure. Throws std::invalid_argument for ratio ≤ 0.
RunSeries at_equal_samples(const RunSeries& ref, double ratio, int64_t arm_steps,
                           int64_t eval_every);

/// Whether two `--set` keys touch the same part of the spec: equal, or one inside the other
/// ("model.layers" and "model.layers[8]"; "optimizer" and "optimizer.lr"). Two interventions
/// with overlapping keys are not combined into one "act together" arm: their overrides do not
/// compose (a new layer list, then an edit of layer 8 of the old numbering).
bool overrides_overlap(const std::string& a, const std::string& b);

/// Training positions whose labels look wrong in the diagnosis run: seen at least
/// diagnose::kRepeatSightings times, never learned
/// (margin never positive), a negative mean margin and a last loss above ln K, once the run's
/// accuracy got a fifth of the way from chance 1/K to perfect (empty otherwise). Deterministic.
std::vector<int64_t> label_noise_suspects(const RunRecord& record, double run_accuracy);

/// The training images a corrupt_samples rerun drops: the finding's flagged samples (the audit's,
/// found again when the finding carries none) and every image that looks corrupt on its own:
/// non-finite or constant, and noise-like ones only when the diagnosis of `record` counted them
/// as corrupt (data::odd_image_mask, diagnose::corrupt_share: the model predicted them worse at
/// first sight than the clean ones). When a large share is corrupt it is no longer an outlier:
/// with half of held-out zoo 7's symmetry images noise, the audit flagged 46 unusual ones, and
/// dropping those alone proved nothing; but held-out zoo 8's dot strips, about half of which
/// look noise-like and carry their labels, must keep them. Noise-like images also count when
/// most of the training split's noise-like share is an excess over validation's
/// (RunRecord::noise_like_shares); whenever they count, the clean-looking flagged images of a class
/// that is mostly noise-like are kept (its in-class outliers are its clean images). Sorted,
/// distinct.
std::vector<int64_t> corrupt_sample_drops(const Finding& f, const data::Dataset& ds,
                                          const RunRecord& record);

/// `o` set to judge like screening: against a placebo, on the second half of the window at
/// least, never confirmed early, the effect held at the end (ConfirmOptions::placebo,
/// judge_from_fraction, early_t, hold_at_end). The doctor screens healthy-looking runs with it;
/// confirm() judges a symptom-free run's drop arms with it (screen_drops).
ConfirmOptions screening_options(ConfirmOptions o);

/// The training position the placebo rerun leaves out: deterministic in the seed, < train_size.
int64_t placebo_position(int64_t seed, int64_t train_size);

/// `count` distinct training positions a drop arm's placebo leaves out, sorted: deterministic in
/// the seed, each < train_size; count 1 gives {placebo_position(seed, train_size)}.
/// Throws std::invalid_argument unless 1 <= count < train_size.
std::vector<int64_t> placebo_positions(int64_t seed, int64_t train_size, int64_t count);

/// The findings after their reruns: confirmed first (confidence c → 1 − (1 − c)/2), ordered by
/// `strength` — how strongly each one's rerun repaired the run, its largest paired effect in
/// units of a meaningful effect (a fix worth +60 points explains a run better than one worth
/// +3; bench/zoo net-bottleneck-2 had lr ÷ 10 and the widened bottleneck both confirmed) — then
/// by confidence; then suspected; then refuted (c → c/2). A confirmed finding whose fix strictly
/// contains another confirmed finding's (the same overrides and more) ranks just below that one,
/// with an evidence line saying so: the smaller fix names the cause. Likewise a confirmed
/// lr_too_high or lr_too_low ranks just below a confirmed bad_lr_schedule whose fix keeps the
/// spec's rate (it does not set optimizer.lr): that rerun showed the rate itself is fine, so the
/// rate change only postponed what the schedule does. Confidences are then made
/// strictly decreasing in that order, since reports sort by them. Pure.
void rerank_after_confirmation(std::vector<Finding>& findings,
                               const std::map<std::string, double>& repair_strength);

struct ConfirmResult {
  std::vector<Finding> findings;  ///< re-ranked, with statuses and evidence
  std::string verdict;
  report::Confirmation confirmation;
};

ConfirmResult confirm(const spec::Spec& spec, const data::Dataset& dataset,
                      const report::Report& diagnosis, const RunRecord& record,
                      const Yardstick& baseline, const ConfirmOptions& options);

/// The other ranks of a data-parallel confirmation (ConfirmOptions::group, rank ≠ 0): trains
/// every rerun rank 0's confirm() orders, on `spec` and `dataset` as loaded for the diagnosis
/// run, until rank 0's confirm() ends. Judges nothing and returns nothing: only rank 0 reports.
/// Throws train::DistributedError when rank 0 or a peer is lost (within the group's timeout);
/// std::invalid_argument without a group or on rank 0.
void follow_confirm(const spec::Spec& spec, const data::Dataset& dataset,
                    const ConfirmOptions& options);

/// Adds a later screening pass (`late`: the weak suspicions of a run whose every finding was
/// refuted, confirmed with a placebo) to `first`: its arms, steps, seconds and notes; its
/// findings beside the earlier ones, ordered by confidence — and, when it confirmed one, the
/// verdict unhealthy (the "healthy" finding and the earlier verdict note go). Otherwise
/// `first`'s verdict stays and only the late pass's refuted findings are added. Pure.
void append_screening(ConfirmResult& first, const ConfirmResult& late);

/// Writes the confirmation into a diagnose report (findings, verdict, confirmation block).
void merge_confirmation(report::Report& report, const ConfirmResult& result);

}  // namespace lossdoctor::experiment
