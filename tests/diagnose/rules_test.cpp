// The cause rules (diagnose/rules/), one by one: for each rule a synthetic record where its
// signal fires and a near miss where it must not, its penalties with their near misses, the
// registry against cause_ids(), that DiagnoserOptions is really read, and that penalties do not
// depend on the order the rules run in. No torch.

#include "lossdoctor/diagnose/rules/rules.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "diagnose/record_builder.hpp"
#include "lossdoctor/diagnose/detectors.hpp"
#include "lossdoctor/diagnose/diagnoser.hpp"
#include "lossdoctor/report/causes.hpp"

namespace lossdoctor::diagnose {
namespace {

using test::RecordBuilder;

/// What one rule is run with besides the record.
struct RuleInput {
  /// Symptoms of the run; when unset, detect_symptoms(record).
  std::optional<std::vector<Symptom>> symptoms;
  std::vector<Finding> lint;
  std::vector<Finding> audit;
  DiagnoserOptions options;
  /// Causes given evidence of weight 0.5 before the rule runs, so its penalties have something
  /// to act on (a penalty alone creates no candidate).
  std::vector<std::string> seeded;
};

constexpr double kSeed = 0.5;

/// A run without symptoms: neither unstable nor stalled.
RuleInput stable() {
  RuleInput in;
  in.symptoms = std::vector<Symptom>{};
  return in;
}

/// Runs `rule` alone on `r`, applies its penalties and returns what it collected.
Collector run_rule(RuleFn rule, const RunRecord& r, const RuleInput& in = {}) {
  const RecordSignals sig = read_signals(r);
  const std::vector<Symptom> symptoms = in.symptoms ? *in.symptoms : detect_symptoms(r);
  const RuleContext ctx = make_rule_context(r, sig, symptoms, in.lint, in.audit, in.options);
  Collector out(in.options);
  for (const auto& cause : in.seeded) out.evidence(cause).add(kSeed, "seeded");
  rule(ctx, out);
  out.apply_penalties();
  return out;
}

const Candidate* candidate(const Collector& c, const std::string& cause) {
  const auto it = c.candidates().find(cause);
  return it == c.candidates().end() ? nullptr : &it->second;
}

/// Confidence of `cause` (0 without a candidate).
double confidence(const Collector& c, const std::string& cause) {
  const Candidate* k = candidate(c, cause);
  return k ? k->confidence() : 0.0;
}

/// Whether some evidence line of `cause` contains `text`.
bool says(const Collector& c, const std::string& cause, const std::string& text) {
  const Candidate* k = candidate(c, cause);
  if (k == nullptr) return false;
  const auto lines = k->ordered_evidence();
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

Symptom symptom(const std::string& id, double severity = 1.0) {
  Symptom s;
  s.id = id;
  s.severity = severity;
  s.evidence = {id + " seen"};
  return s;
}

Finding lint_finding(const std::string& cause) {
  Finding f;
  f.cause = cause;
  f.confidence = 0.8;
  f.severity = "warning";
  f.evidence = {cause + " in the spec"};
  return f;
}

void set_update_ratios(RunRecord& r, double ratio, bool first_probe_too = true) {
  for (size_t i = first_probe_too ? 0 : 1; i < r.probes.size(); ++i) {
    for (auto& l : r.probes[i].layers) {
      if (l.has_weights) l.update_ratio = ratio;
    }
  }
}

std::vector<LayerDescription> stack(int64_t weight_layers, const std::string& activation,
                                    bool batchnorm = false) {
  std::vector<LayerDescription> layers;
  for (int64_t i = 0; i < weight_layers; ++i) {
    LayerDescription w;
    w.name = "layers[" + std::to_string(layers.size()) + "].conv2d";
    w.kind = "conv2d";
    w.has_weights = true;
    layers.push_back(w);
    if (batchnorm) {
      LayerDescription bn;
      bn.name = "layers[" + std::to_string(layers.size()) + "].batchnorm";
      bn.kind = "batchnorm";
      bn.has_weights = true;
      layers.push_back(bn);
    }
    LayerDescription a;
    a.name = "layers[" + std::to_string(layers.size()) + "]." + activation;
    a.kind = activation;
    layers.push_back(a);
  }
  return layers;
}

// -- label_noise ------------------------------------------------------------------------------

/// Training batch accuracy 0.6, validation accuracy `val`, and `high_share` of 1000 seen
/// samples with a loss above ln 10 + 0.7.
/// Training accuracy 60%, validation `val`, `high_share` of the samples confidently
/// contradicted (mean margin −3), the rest with mean margin `fitted_margin`.
RunRecord noisy_labels(double val, double high_share, float fitted_margin = 1.0f) {
  RecordBuilder b;
  b.steps_per_epoch = 100;
  RunRecord r = b.build();
  for (auto& s : r.steps) s.batch_accuracy = 0.6;
  r.epochs.back().val_accuracy = val;
  r.samples.resize(1000);
  for (size_t i = 0; i < r.samples.size(); ++i) {
    const bool contradicted = static_cast<double>(i) < high_share * 1000;
    r.samples[i].times_seen = 3;
    r.samples[i].last_loss = contradicted ? 4.0f : 0.5f;
    r.samples[i].mean_margin = contradicted ? -3.0f : fitted_margin;
  }
  return r;
}

TEST(RuleLabelNoise, ValidationBeatsTrainingAndConfidentlyWrongSamples) {
  const Collector c = run_rule(&rule_label_noise, noisy_labels(0.72, 0.15));
  EXPECT_TRUE(says(c, "label_noise", "validation accuracy 72.0% beats training accuracy 60.0%"));
  EXPECT_TRUE(says(c, "label_noise", "15.0% of training samples"));
  // 0.4 + 2 × 0.12 + 2 × (0.15 − 0.06)
  EXPECT_NEAR(confidence(c, "label_noise"), 0.82, 1e-9);
}

TEST(RuleLabelNoise, NearMisses) {
  // Gap 4 points (< 5), or only 5% of samples confidently contradicted (< 6%: heavy
  // augmentation reaches 4.5% on clean labels).
  EXPECT_EQ(candidate(run_rule(&rule_label_noise, noisy_labels(0.64, 0.15)), "label_noise"),
            nullptr);
  EXPECT_EQ(candidate(run_rule(&rule_label_noise, noisy_labels(0.72, 0.05)), "label_noise"),
            nullptr);
  // The mildest noise that still opens both: 12% noise on bench/zoo's base (gap 6.9 points,
  // 10.2% contradicted) gives evidence.
  EXPECT_NE(candidate(run_rule(&rule_label_noise, noisy_labels(0.669, 0.102)), "label_noise"),
            nullptr);
  // Heavy augmentation on clean labels (bench/zoo ok-heavy-augmentation, seed 3): a gap of 18
  // points and 6.3% above ln K + 0.7, but only 5.4% contradicted throughout (< 8%).
  RunRecord augmented = noisy_labels(0.78, 0.063, -0.22f);
  for (size_t i = 54; i < 63; ++i) augmented.samples[i].mean_margin = -1.5f;
  augmented.train_augmentation = true;  // random crop and flip, as in that case's spec
  EXPECT_EQ(candidate(run_rule(&rule_label_noise, augmented), "label_noise"), nullptr);
}

TEST(RuleLabelNoise, APoweredLabelAgreementWithoutAGapContradictsIt) {
  // Held-out zoo 17's hard-b33-dropout-0.6 on clean labels: gap z −0.8, learned z 27.7.
  RunRecord r = noisy_labels(0.72, 0.15);
  r.label_agreement = LabelAgreementZ{-0.8, 27.7};
  const Collector c = run_rule(&rule_label_noise, r);
  EXPECT_NEAR(confidence(c, "label_noise"), 0.82 * 0.3, 1e-9);
  EXPECT_TRUE(says(c, "label_noise", "gap z -0.8"));
  // Near misses: a gap however small (hard-n28-label-noise-10, 10% noise: z 0.5), and no gap
  // from models that learned too little to tell (zoo 9's o5: learned z ≈ 1.4).
  r.label_agreement = LabelAgreementZ{0.5, 16.0};
  EXPECT_NEAR(confidence(run_rule(&rule_label_noise, r), "label_noise"), 0.82, 1e-9);
  r.label_agreement = LabelAgreementZ{-1.6, 1.4};
  EXPECT_NEAR(confidence(run_rule(&rule_label_noise, r), "label_noise"), 0.82, 1e-9);
}

TEST(RuleLabelNoise, SamplesSeenOnceAreNoEvidence) {
  // A run stopped inside its first epoch: every sample met once, many of them by the untrained
  // model of the first steps (held-out zoo 4 ok-d12-base seed 1: 10.2% "contradicted").
  RunRecord r = noisy_labels(0.72, 0.15);
  for (auto& s : r.samples) s.times_seen = 1;
  EXPECT_EQ(read_signals(r).contradicted_fraction, 0.0);
  EXPECT_EQ(read_signals(r).high_loss_fraction, 0.0);
  EXPECT_EQ(candidate(run_rule(&rule_label_noise, r), "label_noise"), nullptr);
  for (size_t i = 0; i < 500; ++i) r.samples[i].times_seen = 2;  // half met twice: they count
  EXPECT_NEAR(read_signals(r).contradicted_fraction, 0.3, 1e-9);
  EXPECT_NE(candidate(run_rule(&rule_label_noise, r), "label_noise"), nullptr);
}

TEST(RuleLabelNoise, AHeavyGapIsEvidenceOnItsOwnUnlessTheTrainingSplitIsAugmented) {
  // 45% noise on 5 classes: a weak model, never confident (no sample contradicted), whose clean
  // validation accuracy beats training by 22 points.
  RunRecord r = noisy_labels(0.82, 0.0, 0.2f);
  r.num_classes = 5;
  const Collector c = run_rule(&rule_label_noise, r);
  EXPECT_TRUE(says(c, "label_noise", "validation accuracy 82.0% beats training accuracy 60.0%"));
  EXPECT_NEAR(confidence(c, "label_noise"), 0.4 + 2 * 0.22, 1e-9);
  r.train_augmentation = true;  // random crop and flip depress training accuracy on clean labels
  EXPECT_EQ(candidate(run_rule(&rule_label_noise, r), "label_noise"), nullptr);
  r.train_augmentation = false;
  r.epochs.back().val_accuracy = 0.74;  // near miss: a gap of 14 points
  EXPECT_EQ(candidate(run_rule(&rule_label_noise, r), "label_noise"), nullptr);
  r.epochs.back().val_accuracy = 0.82;
  for (auto& s : r.steps) s.batch_accuracy = 0.2;  // at chance on training ...
  r.epochs.back().val_accuracy = 0.355;            // ... and validation below a fifth of the way
  EXPECT_EQ(candidate(run_rule(&rule_label_noise, r), "label_noise"), nullptr);
}

TEST(RuleLabelNoise, WithDropoutTrainingAccuracyIsTakenInEvalMode) {
  // Held-out zoo 4 ok-o6-base seed 5: dropout 0.3 held training-mode accuracy at 74.8% against
  // 91.4% on validation, clean labels. The probe steps' eval-mode accuracy closes the gap.
  RunRecord r = noisy_labels(0.82, 0.0, 0.2f);
  for (size_t i = 0; i < r.steps.size(); i += 10) r.steps[i].eval_batch_accuracy = 0.80;
  EXPECT_NEAR(read_signals(r).late_eval_train_accuracy, 0.80, 1e-9);
  EXPECT_EQ(candidate(run_rule(&rule_label_noise, r), "label_noise"), nullptr);
  // Near miss: with wrong labels, eval mode does not close it (the model predicts the true
  // class, which the label contradicts).
  for (size_t i = 0; i < r.steps.size(); i += 10) r.steps[i].eval_batch_accuracy = 0.62;
  const Collector c = run_rule(&rule_label_noise, r);
  EXPECT_TRUE(says(c, "label_noise", "beats training accuracy 62.0% (eval mode, dropout off)"));
  EXPECT_NEAR(confidence(c, "label_noise"), 0.4 + 2 * 0.20, 1e-9);
}

// -- corrupt_samples --------------------------------------------------------------------------

TEST(RuleCorruptSamples, NanInTheInputBatch) {
  RunRecord r = test::healthy_falling();
  r.first_nonfinite = NonFiniteOrigin{40, "input", false};
  const Collector c = run_rule(&rule_corrupt_samples, r);
  EXPECT_TRUE(says(c, "corrupt_samples", "the first NaN/Inf is in the input batch at step 40"));
  EXPECT_EQ(candidate(c, "corrupt_samples")->first_step, 40);

  r.first_nonfinite = NonFiniteOrigin{40, "layers[7].dense", false};  // near miss: in a layer
  EXPECT_EQ(candidate(run_rule(&rule_corrupt_samples, r), "corrupt_samples"), nullptr);
}

TEST(RuleCorruptSamples, ShareOfCorruptLookingImages) {
  RunRecord r = test::healthy_falling();
  for (auto& s : r.steps) s.odd_input_fraction = 0.03;
  const Collector c = run_rule(&rule_corrupt_samples, r);
  EXPECT_TRUE(says(c, "corrupt_samples", "3.0% of training images look corrupt"));
  EXPECT_NEAR(confidence(c, "corrupt_samples"), 0.12, 1e-9);  // 4 × 3%

  for (auto& s : r.steps) s.odd_input_fraction = 0.015;  // near miss: below 2%
  EXPECT_EQ(candidate(run_rule(&rule_corrupt_samples, r), "corrupt_samples"), nullptr);
}

/// A record whose probes looked at `clean` clean and `noisy` noise-like images (and `broken`
/// broken ones), of which the shares `clean_right` and `noisy_right` were predicted right at
/// first sight (10 classes: chance 10%).
RunRecord with_looks(int clean, double clean_right, int noisy, double noisy_right, int broken = 0) {
  RunRecord r = test::healthy_falling();
  for (auto& s : r.steps) s.odd_input_fraction = 0.5;  // must not matter once looks are known
  r.samples.assign(static_cast<size_t>(clean + noisy + broken + 50), SampleDynamics{});
  size_t i = 0;
  const auto add = [&](int n, double right, int8_t look) {
    for (int k = 0; k < n; ++k, ++i) {
      r.samples[i].times_seen = 2;
      r.samples[i].look = look;
      r.samples[i].first_margin = k < std::lround(right * n) ? 1.0f : -1.0f;
    }
  };
  add(clean, clean_right, 0);
  add(noisy, noisy_right, 2);
  add(broken, 0.0, 1);
  return r;  // the last 50 samples were never looked at: they do not count
}

TEST(RuleCorruptSamples, NoiseLikeImagesTheModelPredictsAtFirstSightAreData) {
  // 28.6% look like noise, but they are predicted nearly as well as the clean images: about
  // (0.8 − 0.7) / (0.8 − 0.1) = 14% of them carry no label, below the 0.5 margin.
  const Collector c = run_rule(&rule_corrupt_samples, with_looks(100, 0.8, 40, 0.7));
  EXPECT_EQ(candidate(c, "corrupt_samples"), nullptr);
}

TEST(RuleCorruptSamples, NoiseLikeImagesPredictedAtChanceAreCorrupt) {
  const Collector c = run_rule(&rule_corrupt_samples, with_looks(100, 0.8, 40, 0.1));
  // All 40 carry no label ((0.8 − 0.1) / 0.7 = 1), ± 0.068 (0.047 / 0.7): the lower bound 0.93
  // counts (0.93 − 0.5) / 0.5 = 86%: 34.6 of 140 images, 24.7%.
  EXPECT_TRUE(says(c, "corrupt_samples", "24.7% of training images look corrupt"));
  EXPECT_TRUE(says(c, "corrupt_samples",
                   "at first sight the model predicted 10% of them right vs 80% of the clean "
                   "ones (chance 10%), so 86% of them count as corrupt"));
  EXPECT_NEAR(confidence(c, "corrupt_samples"), 0.85, 1e-9);  // 4 × 28.6%, at most 0.85
  // Half of them carry no label ((0.8 − 0.45) / 0.7 = 0.5): nothing above the margin counts.
  EXPECT_EQ(
      candidate(run_rule(&rule_corrupt_samples, with_looks(100, 0.8, 40, 0.45)), "corrupt_samples"),
      nullptr);
}

TEST(RuleCorruptSamples, NoiseLikeImagesThatAreMostOfTheDataAreItsNature) {
  // 85% look like noise and are predicted at chance: that is what this data looks like (above
  // noise_like_data_share 0.75), so none counts, however badly the model does on them.
  const Collector most = run_rule(&rule_corrupt_samples, with_looks(60, 0.8, 340, 0.1));
  EXPECT_EQ(candidate(most, "corrupt_samples"), nullptr);
  // Half of the images noise, unpredictable: corrupt (a one-half rule used to hide them).
  const Collector half = run_rule(&rule_corrupt_samples, with_looks(200, 0.8, 200, 0.1));
  ASSERT_NE(candidate(half, "corrupt_samples"), nullptr);
  EXPECT_NEAR(confidence(half, "corrupt_samples"), 0.85, 1e-9);
  // Broken images still count when noise is the data's nature, and they do not dilute it: 30%
  // blank images among textures, 81% of the rest noise-like (57% of all images).
  const Collector broken = run_rule(&rule_corrupt_samples, with_looks(53, 0.8, 227, 0.1, 120));
  EXPECT_TRUE(says(broken, "corrupt_samples", "30.0% of training images look corrupt"));
  EXPECT_TRUE(
      says(broken, "corrupt_samples", "81.1% of the 280 images checked that are not broken"));
}

TEST(RuleCorruptSamples, NoMoreNoiseLikeImagesCountThanTrainingHasBeyondValidation) {
  // The case above (86% of 40 noise-like images count: 24.7%), but the data set's validation
  // split holds as many noise-like images as training: a hard part of the data, not corruption.
  RunRecord same = with_looks(100, 0.8, 40, 0.1);
  same.noise_like_shares = NoiseLikeShares{0.29, 0.28, 0.02};
  const Collector c = run_rule(&rule_corrupt_samples, same);
  EXPECT_EQ(candidate(c, "corrupt_samples"), nullptr);
  // Training 10 points above validation, ± 1: at most 10 − 2 × 1 = 8% of the images can be
  // corruption: 8% × 140 = 11.2 images, 28% of the 40.
  RunRecord some = with_looks(100, 0.8, 40, 0.1);
  some.noise_like_shares = NoiseLikeShares{0.29, 0.19, 0.01};
  const Collector d = run_rule(&rule_corrupt_samples, some);
  EXPECT_TRUE(says(d, "corrupt_samples", "8.0% of training images look corrupt"));
  EXPECT_TRUE(says(d, "corrupt_samples",
                   "training split holds 29.0% noise-like images against validation's 19.0% "
                   "(class-balanced, standard error 1.0 points), so at most 28% of them can be "
                   "corruption"));
  // Injected noise (validation has none): the first-sight count stands.
  RunRecord injected = with_looks(100, 0.8, 40, 0.1);
  injected.noise_like_shares = NoiseLikeShares{0.29, 0.0, 0.02};
  EXPECT_TRUE(says(run_rule(&rule_corrupt_samples, injected), "corrupt_samples",
                   "24.7% of training images look corrupt"));
}

TEST(RuleCorruptSamples, ValidationSaysWhetherNoiseIsTheDatasNature) {
  // 85% of the training images look like noise and are predicted at chance (the case above that
  // counts none), but validation's share is 15%: the data does not look like that, the training
  // excess (85 − 15 − 2 × 1.7 = 66.6 points) is injected noise. Counted: 66.6% of the images.
  RunRecord injected = with_looks(60, 0.8, 340, 0.1);
  injected.noise_like_shares = NoiseLikeShares{0.85, 0.15, 0.017};
  const Collector c = run_rule(&rule_corrupt_samples, injected);
  ASSERT_NE(candidate(c, "corrupt_samples"), nullptr);
  EXPECT_TRUE(says(c, "corrupt_samples", "66.6% of training images look corrupt"));
  // Validation as noisy as training: the data's nature, and the message says whose share decided.
  RunRecord nature = with_looks(60, 0.8, 340, 0.1);
  nature.noise_like_shares = NoiseLikeShares{0.85, 0.83, 0.02};
  const Collector d = run_rule(&rule_corrupt_samples, nature);
  EXPECT_EQ(candidate(d, "corrupt_samples"), nullptr);
  const DiagnoserOptions::CorruptSamples o;
  EXPECT_TRUE(noise_is_the_datas_nature(nature.noise_like_shares, 0.1, o));
  EXPECT_FALSE(noise_is_the_datas_nature(injected.noise_like_shares, 0.85, o));
  EXPECT_TRUE(noise_is_the_datas_nature(std::nullopt, 0.85, o));  // no shares: training decides
  EXPECT_NE(corrupt_share(read_signals(nature), o).how.find("83.0% of the validation images"),
            std::string::npos);
}

/// An audit finding that flags the training samples [first, first + count).
Finding audit_flags(int64_t first, int64_t count) {
  Finding f;
  f.cause = "corrupt_samples";
  for (int64_t i = first; i < first + count; ++i) f.samples.push_back(i);
  return f;
}

TEST(RuleCorruptSamples, FlaggedImagesPredictedAtFirstSightLikeTheRestAreData) {
  // 200 clean-looking images; the audit flags the last 40 (an unusual look, e.g. saturated).
  // Predicted right at first sight: 45% of the others and 50% of the flagged (chance 10%).
  RunRecord r = with_looks(160, 0.45, 0, 0.0);
  for (size_t i = 160; i < 200; ++i) {
    r.samples[i].times_seen = 2;
    r.samples[i].look = SampleDynamics::kClean;
    r.samples[i].first_margin = i < 180 ? 1.0f : -1.0f;
  }
  RuleInput in = stable();
  in.audit = {audit_flags(160, 40)};
  in.seeded = {"corrupt_samples"};
  const Collector c = run_rule(&rule_corrupt_samples, r, in);
  EXPECT_TRUE(says(c, "corrupt_samples", "50% of the 40 flagged images right at first sight"));
  EXPECT_NEAR(confidence(c, "corrupt_samples"), kSeed * (1 - 0.8), 1e-9);
  // Near miss: flagged images predicted at chance carry no label: no penalty.
  for (size_t i = 160; i < 200; ++i) r.samples[i].first_margin = i < 164 ? 1.0f : -1.0f;
  EXPECT_NEAR(confidence(run_rule(&rule_corrupt_samples, r, in), "corrupt_samples"), kSeed, 1e-9);
  // Nor when a flagged image is broken (the audit is then right about some of them).
  for (size_t i = 160; i < 200; ++i) r.samples[i].first_margin = i < 180 ? 1.0f : -1.0f;
  r.samples[199].look = SampleDynamics::kBroken;
  EXPECT_NEAR(confidence(run_rule(&rule_corrupt_samples, r, in), "corrupt_samples"), kSeed, 1e-9);
}

TEST(RuleCorruptSamples, NoiseLikeImagesJudgedOnceTheCleanOnesAreSignificantlyAboveChance) {
  // Seen early, while the model is weak: clean 24% of 600 against chance 10% is 8 standard
  // errors above it; the noise-like ones at chance carry no label.
  const Collector c = run_rule(&rule_corrupt_samples, with_looks(600, 0.24, 300, 0.1));
  EXPECT_TRUE(says(c, "corrupt_samples", "so 75% of them count as corrupt"));
  // Near miss: 24% of 30 is only 1.8 standard errors above chance: not judged.
  EXPECT_EQ(
      candidate(run_rule(&rule_corrupt_samples, with_looks(30, 0.24, 300, 0.1)), "corrupt_samples"),
      nullptr);
}

TEST(RuleCorruptSamples, BrokenImagesAlwaysCountNoiseLikeOnlyOnceTheModelLearned) {
  // 5 broken of 100: 5%, whatever the model does.
  const Collector c = run_rule(&rule_corrupt_samples, with_looks(95, 0.15, 0, 0.0, 5));
  EXPECT_TRUE(says(c, "corrupt_samples", "5.0% of training images look corrupt"));
  // Clean images predicted at 20% against chance 10%: too little learned to judge noise-like
  // images, which then do not count (near miss of the case above).
  EXPECT_EQ(
      candidate(run_rule(&rule_corrupt_samples, with_looks(60, 0.2, 40, 0.1)), "corrupt_samples"),
      nullptr);
  EXPECT_NE(
      candidate(run_rule(&rule_corrupt_samples, with_looks(60, 0.3, 40, 0.1)), "corrupt_samples"),
      nullptr);
}

// -- unnormalized_input -----------------------------------------------------------------------

RunRecord with_input_max(double max_abs) {
  RunRecord r = test::healthy_falling();
  for (auto& s : r.steps) s.input = {max_abs / 3, max_abs / 3, 0.0, max_abs, 0.0};
  return r;
}

TEST(RuleUnnormalizedInput, RawPixels) {
  const Collector c = run_rule(&rule_unnormalized_input, with_input_max(255));
  EXPECT_TRUE(says(c, "unnormalized_input", "magnitudes up to 255"));
  EXPECT_NEAR(confidence(c, "unnormalized_input"), 0.4, 1e-9) << "a healthy run: not 0.7";
  // Near miss: 19 is below raw_max_abs (20).
  EXPECT_EQ(candidate(run_rule(&rule_unnormalized_input, with_input_max(19)), "unnormalized_input"),
            nullptr);
}

TEST(RuleUnnormalizedInput, ScaledTwice) {
  const Collector c = run_rule(&rule_unnormalized_input, with_input_max(0.04));
  EXPECT_TRUE(says(c, "unnormalized_input", "scaled twice"));
  // Near miss: 0.06 is above tiny_max_abs (0.05).
  EXPECT_EQ(
      candidate(run_rule(&rule_unnormalized_input, with_input_max(0.06)), "unnormalized_input"),
      nullptr);
}

// -- class_imbalance --------------------------------------------------------------------------

RunRecord with_class_counts(int64_t major, int64_t minor) {
  RunRecord r = test::healthy_falling();
  for (auto& s : r.steps) {
    s.label_histogram.assign(10, minor);
    s.label_histogram[0] = major;
  }
  return r;
}

TEST(RuleClassImbalance, OneClassDominates) {
  const Collector c = run_rule(&rule_class_imbalance, with_class_counts(25, 5));
  EXPECT_TRUE(says(c, "class_imbalance", "appears 5.0× as often as the rarest"));
  EXPECT_NEAR(confidence(c, "class_imbalance"), 0.75, 1e-9);  // 0.15 × 5
  // Near miss: a ratio of 3.5 (≤ 4).
  EXPECT_EQ(candidate(run_rule(&rule_class_imbalance, with_class_counts(14, 4)), "class_imbalance"),
            nullptr);
  // Class-ordered batches explain it (unshuffled_data).
  RuleInput ordered;
  ordered.symptoms = std::vector<Symptom>{symptom("batch_label_runs")};
  EXPECT_EQ(candidate(run_rule(&rule_class_imbalance, with_class_counts(25, 5), ordered),
                      "class_imbalance"),
            nullptr);
}

// -- bad_init_scale ---------------------------------------------------------------------------

TEST(RuleBadInitScale, ZeroWeightsAtTheStart) {
  RunRecord r = test::healthy_falling();
  r.probes.front().layers[4].weight_norm = 0.0;
  EXPECT_TRUE(says(run_rule(&rule_bad_init_scale, r), "bad_init_scale", "all weights zero"));
  r.probes.front().layers[4].weight_norm = 1e-3;  // near miss: small, not zero
  EXPECT_EQ(candidate(run_rule(&rule_bad_init_scale, r), "bad_init_scale"), nullptr);
}

TEST(RuleBadInitScale, ActivationScaleExplodesThroughTheLayers) {
  RunRecord r = test::healthy_falling();
  r.probes.front().layers[7].activation.std = 150.0;  // last weight layer / first: 150×
  EXPECT_TRUE(says(run_rule(&rule_bad_init_scale, r), "bad_init_scale", "activation scale"));
  r.probes.front().layers[7].activation.std = 90.0;  // near miss: 90× (≤ 100)
  EXPECT_EQ(candidate(run_rule(&rule_bad_init_scale, r), "bad_init_scale"), nullptr);
}

TEST(RuleBadInitScale, HeavyRegularisationPenalty) {
  const RunRecord r = test::healthy_falling();
  RuleInput in;
  in.seeded = {"bad_init_scale"};
  in.lint = {lint_finding("excessive_regularization")};
  EXPECT_NEAR(confidence(run_rule(&rule_bad_init_scale, r, in), "bad_init_scale"), kSeed * 0.5,
              1e-9);
  in.lint.push_back(lint_finding("bad_init_scale"));  // near miss: lint flags the init too
  EXPECT_NEAR(confidence(run_rule(&rule_bad_init_scale, r, in), "bad_init_scale"), kSeed, 1e-9);
}

// -- missing_normalization --------------------------------------------------------------------

RunRecord deep_relu(int64_t weight_layers) {
  RunRecord r = test::healthy_falling();
  r.layers = stack(weight_layers, "relu");
  return r;
}

RuleInput stalled_with(const std::string& id) {
  RuleInput in;
  in.symptoms = std::vector<Symptom>{symptom(id), symptom("plateau_at_chance")};
  return in;
}

TEST(RuleMissingNormalization, DeepReluStackThatStalls) {
  const Collector c =
      run_rule(&rule_missing_normalization, deep_relu(8), stalled_with("vanishing_gradient"));
  EXPECT_TRUE(says(c, "missing_normalization", "8 weight layers and no batch norm"));
  // Near misses: 7 weight layers; or 8 with batch norm; or no vanishing gradients/dead units.
  EXPECT_EQ(candidate(run_rule(&rule_missing_normalization, deep_relu(7),
                               stalled_with("vanishing_gradient")),
                      "missing_normalization"),
            nullptr);
  RunRecord bn = test::healthy_falling();
  bn.layers = stack(8, "relu", true);
  EXPECT_EQ(candidate(run_rule(&rule_missing_normalization, bn, stalled_with("dead_units")),
                      "missing_normalization"),
            nullptr);
  EXPECT_EQ(candidate(run_rule(&rule_missing_normalization, deep_relu(8),
                               stalled_with("slow_convergence")),
                      "missing_normalization"),
            nullptr);
}

TEST(RuleMissingNormalization, ShallowOrNotReluPenalty) {
  RuleInput in;
  in.seeded = {"missing_normalization"};
  EXPECT_NEAR(
      confidence(run_rule(&rule_missing_normalization, deep_relu(5), in), "missing_normalization"),
      kSeed * 0.3, 1e-9);
  EXPECT_NEAR(
      confidence(run_rule(&rule_missing_normalization, deep_relu(6), in), "missing_normalization"),
      kSeed, 1e-9)
      << "6 weight layers: not shallow";
  RunRecord tanh = test::healthy_falling();
  tanh.layers = stack(10, "tanh");
  EXPECT_TRUE(says(run_rule(&rule_missing_normalization, tanh, in), "missing_normalization",
                   "against: 10 weight layers, no ReLU"));
}

// -- saturating_activation --------------------------------------------------------------------

TEST(RuleSaturatingActivation, NoSigmoidOrTanhPenalty) {
  RuleInput in;
  in.seeded = {"saturating_activation"};
  const Collector relu = run_rule(&rule_saturating_activation, deep_relu(6), in);
  EXPECT_NEAR(confidence(relu, "saturating_activation"), kSeed * 0.1, 1e-9);
  EXPECT_TRUE(says(relu, "saturating_activation", "against: no sigmoid or tanh layer"));
  RunRecord sigmoid = deep_relu(6);
  sigmoid.layers.back().kind = "sigmoid";  // near miss: one sigmoid layer
  EXPECT_NEAR(
      confidence(run_rule(&rule_saturating_activation, sigmoid, in), "saturating_activation"),
      kSeed, 1e-9);
}

TEST(RuleSaturatingActivation, UnsaturatedTanhThatTrainsIsNoFault) {
  RuleInput in = stable();
  in.seeded = {"saturating_activation"};
  RunRecord tanh = test::healthy_falling();
  tanh.layers = stack(4, "tanh");
  ASSERT_FALSE(tanh.probes.empty());
  const Collector c = run_rule(&rule_saturating_activation, tanh, in);
  EXPECT_NEAR(confidence(c, "saturating_activation"), kSeed * 0.1, 1e-9);
  EXPECT_TRUE(says(c, "saturating_activation", "against: its tanh layers do not saturate"));
  // Near misses: a saturated_units symptom, a stall, a sigmoid layer, no probes.
  RuleInput saturated = in;
  saturated.symptoms = std::vector<Symptom>{symptom("saturated_units")};
  EXPECT_NEAR(
      confidence(run_rule(&rule_saturating_activation, tanh, saturated), "saturating_activation"),
      kSeed, 1e-9);
  RuleInput stalled = stalled_with("slow_convergence");
  stalled.seeded = in.seeded;
  EXPECT_NEAR(
      confidence(run_rule(&rule_saturating_activation, tanh, stalled), "saturating_activation"),
      kSeed, 1e-9);
  RunRecord sigmoid = tanh;
  sigmoid.layers[1].kind = "sigmoid";
  EXPECT_NEAR(
      confidence(run_rule(&rule_saturating_activation, sigmoid, in), "saturating_activation"),
      kSeed, 1e-9);
  RunRecord unprobed = tanh;
  unprobed.probes.clear();
  EXPECT_NEAR(
      confidence(run_rule(&rule_saturating_activation, unprobed, in), "saturating_activation"),
      kSeed, 1e-9);
}

// -- lr_too_high ------------------------------------------------------------------------------

/// Every probed update ratio at `ratio` except at the first probe (left at ~1e-3).
RunRecord with_update_ratio(double ratio) {
  RunRecord r = test::healthy_falling();
  set_update_ratios(r, ratio, /*first_probe_too=*/false);
  return r;
}

TEST(RuleLrTooHigh, LargeUpdates) {
  const Collector c = run_rule(&rule_lr_too_high, with_update_ratio(0.12));
  EXPECT_TRUE(says(c, "lr_too_high", "each step changes the weights by 12.0% of their norm"));
  EXPECT_FALSE(says(c, "lr_too_high", "first probed step")) << "the first probe is healthy";
  // Near miss: 9% (≤ large_update_ratio, 10%).
  EXPECT_EQ(candidate(run_rule(&rule_lr_too_high, with_update_ratio(0.09)), "lr_too_high"),
            nullptr);
}

TEST(RuleLrTooHigh, FirstProbedUpdate) {
  RunRecord r = test::healthy_falling();
  for (auto& l : r.probes.front().layers) {
    if (l.has_weights) l.update_ratio = 0.15;
  }
  EXPECT_TRUE(says(run_rule(&rule_lr_too_high, r), "lr_too_high", "first probed step"));
  for (auto& l : r.probes.front().layers) {
    if (l.has_weights) l.update_ratio = 0.08;  // near miss
  }
  EXPECT_EQ(candidate(run_rule(&rule_lr_too_high, r), "lr_too_high"), nullptr);
}

TEST(RuleLrTooHigh, AnAdaptiveOptimisersFirstStepAtAUsualRateIsNoEvidence) {
  // Adagrad at 0.02 (usual range 1e-3..0.5) moves every weight by about the rate on its first
  // step: 16% of He-initialised weights, by construction, not by overshooting.
  RunRecord r = test::healthy_falling();
  for (auto& l : r.probes.front().layers) {
    if (l.has_weights) l.update_ratio = 0.16;
  }
  r.optimizer = "adagrad";
  r.base_lr = 0.02;
  EXPECT_EQ(candidate(run_rule(&rule_lr_too_high, r), "lr_too_high"), nullptr);
  r.optimizer = "rmsprop";
  r.base_lr = 1e-3;
  EXPECT_EQ(candidate(run_rule(&rule_lr_too_high, r), "lr_too_high"), nullptr);
  // Near misses: the same optimiser above its usual range, and SGD (no sign-like step).
  r.optimizer = "adam";
  r.base_lr = 0.03;
  EXPECT_TRUE(says(run_rule(&rule_lr_too_high, r), "lr_too_high", "first probed step"));
  r.optimizer = "sgd";
  r.base_lr = 0.02;
  EXPECT_TRUE(says(run_rule(&rule_lr_too_high, r), "lr_too_high", "first probed step"));
}

TEST(RuleLrTooHigh, LossJumpsAtTheFirstUpdate) {
  RunRecord r = test::healthy_falling();
  r.steps[0].loss = 2.3;
  for (int i = 1; i <= 3; ++i) r.steps[static_cast<size_t>(i)].loss = 2.3 * 12;
  const Collector c = run_rule(&rule_lr_too_high, r);
  EXPECT_TRUE(says(c, "lr_too_high", "the first update multiplied the loss by 12"));
  EXPECT_EQ(candidate(c, "lr_too_high")->first_step, 1);
  for (int i = 1; i <= 3; ++i) r.steps[static_cast<size_t>(i)].loss = 2.3 * 9;  // near miss
  EXPECT_EQ(candidate(run_rule(&rule_lr_too_high, r), "lr_too_high"), nullptr);
  // A jump from a tiny start that stays below 3 ln K is not an overshoot.
  r.steps[0].loss = 0.1;
  for (int i = 1; i <= 3; ++i) r.steps[static_cast<size_t>(i)].loss = 1.5;
  EXPECT_EQ(candidate(run_rule(&rule_lr_too_high, r), "lr_too_high"), nullptr);
}

TEST(RuleLrTooHigh, WeightNormBalloons) {
  RunRecord r = test::healthy_falling();
  const auto grow = [&r](double factor) {
    for (auto& s : r.steps)
      s.weight_norm = 20.0 * (1 + (factor - 1) * static_cast<double>(s.step) / 399.0);
  };
  grow(25);
  EXPECT_TRUE(says(run_rule(&rule_lr_too_high, r), "lr_too_high", "weight norm grew 25×"));
  grow(15);  // near miss: ≤ 20×
  EXPECT_EQ(candidate(run_rule(&rule_lr_too_high, r), "lr_too_high"), nullptr);
}

TEST(RuleLrTooHigh, RateAboveUsualRangeWhenUnstable) {
  RunRecord r = test::healthy_falling();
  r.base_lr = 2.0;  // sgd's usual range ends at 0.5
  RuleInput unstable;
  unstable.symptoms = std::vector<Symptom>{symptom("oscillating_loss")};
  EXPECT_TRUE(says(run_rule(&rule_lr_too_high, r, unstable), "lr_too_high",
                   "above the usual range for sgd"));
  r.base_lr = 0.4;  // near miss: inside the range
  EXPECT_EQ(candidate(run_rule(&rule_lr_too_high, r, unstable), "lr_too_high"), nullptr);
  r.base_lr = 2.0;  // near miss: a stable run
  EXPECT_EQ(candidate(run_rule(&rule_lr_too_high, r, stable()), "lr_too_high"), nullptr);
  r.optimizer = "other";  // near miss: an optimiser without a usual range
  EXPECT_EQ(candidate(run_rule(&rule_lr_too_high, r, unstable), "lr_too_high"), nullptr);
}

TEST(RuleLrTooHigh, FarAboveTheUsualRangeTheFixIsTheUsualRate) {
  // No lint ran (a Monitor, --record-in or log record): adam at lr 1 must not be told 0.1, a
  // rate lint calls an error, but adam's usual 1e-3.
  RunRecord r = test::healthy_falling();
  r.optimizer = "adam";
  r.base_lr = 1.0;
  RuleInput unstable;
  unstable.symptoms = std::vector<Symptom>{symptom("oscillating_loss")};
  const Collector far = run_rule(&rule_lr_too_high, r, unstable);  // outlives the pointer
  const Candidate* c = candidate(far, "lr_too_high");
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->fix.count("optimizer.lr"));
  EXPECT_DOUBLE_EQ(std::stod(c->fix.at("optimizer.lr")), 1e-3);
  // Near miss: inside adam's range (5e-3) with overshooting updates, the rule suspects the rate
  // but leaves the causes table's ÷ 10 in place.
  RunRecord in_range = with_update_ratio(0.12);
  in_range.optimizer = "adam";
  in_range.base_lr = 5e-3;
  const Collector within = run_rule(&rule_lr_too_high, in_range, unstable);
  const Candidate* near = candidate(within, "lr_too_high");
  ASSERT_NE(near, nullptr);
  EXPECT_EQ(near->fix.count("optimizer.lr"), 0u);
}

TEST(RuleLrTooHigh, Penalties) {
  RuleInput in;
  in.seeded = {"lr_too_high"};
  in.symptoms = std::vector<Symptom>{};
  const auto conf = [&](const RunRecord& r, const RuleInput& i) {
    return confidence(run_rule(&rule_lr_too_high, r, i), "lr_too_high");
  };
  const RunRecord healthy = test::healthy_falling();
  EXPECT_NEAR(conf(healthy, in), kSeed, 1e-9) << "no look-alike: no penalty";

  EXPECT_NEAR(conf(with_input_max(255), in), kSeed * 0.7, 1e-9) << "raw inputs";
  EXPECT_NEAR(conf(with_input_max(19), in), kSeed, 1e-9) << "near miss";

  RunRecord nan = test::healthy_falling();
  nan.first_nonfinite = NonFiniteOrigin{40, "input", false};
  EXPECT_NEAR(conf(nan, in), kSeed * 0.3, 1e-9) << "NaN from the data";

  RuleInput bad_start = in;
  bad_start.symptoms = std::vector<Symptom>{symptom("bad_initial_loss")};
  EXPECT_NEAR(conf(healthy, bad_start), kSeed * 0.7, 1e-9) << "wrong before the first update";

  RunRecord tiny_batch = test::healthy_falling();
  tiny_batch.batch_size = 4;
  EXPECT_NEAR(conf(tiny_batch, in), kSeed * 0.5, 1e-9) << "batches of 4";
  tiny_batch.batch_size = 5;
  EXPECT_NEAR(conf(tiny_batch, in), kSeed, 1e-9) << "near miss: batches of 5";
  tiny_batch.batch_size = 4;
  RuleInput linted = in;
  linted.lint = {lint_finding("lr_too_high")};
  EXPECT_NEAR(conf(tiny_batch, linted), kSeed, 1e-9) << "lint says the rate is too high";
  // No lint (a Monitor or log record): a rate above the optimiser's usual range is no excuse.
  tiny_batch.optimizer = "adam";
  tiny_batch.base_lr = 1.0;
  EXPECT_NEAR(conf(tiny_batch, in), kSeed, 1e-9) << "adam at lr 1 with batches of 4";
  tiny_batch.base_lr = 1e-3;
  EXPECT_NEAR(conf(tiny_batch, in), kSeed * 0.5, 1e-9) << "near miss: adam at its usual 1e-3";
}

// -- lr_too_low -------------------------------------------------------------------------------

TEST(RuleLrTooLow, SmallUpdates) {
  RunRecord r = test::healthy_falling();
  set_update_ratios(r, 1e-4);
  const Collector c = run_rule(&rule_lr_too_low, r);
  EXPECT_TRUE(says(c, "lr_too_low", "each step changes the weights by only 0.0001"));
  set_update_ratios(r, 3e-4);  // near miss: above small_update_ratio (2e-4)
  EXPECT_EQ(candidate(run_rule(&rule_lr_too_low, r), "lr_too_low"), nullptr);
}

TEST(RuleLrTooLow, LayersThatGetNoGradientAreNotSlow) {
  // Held-out zoo 12's n21-sgd-lr-20 at seed 1: the rate blew the loss up to 1e16 and from step
  // 30 on every unit was dead — every layer's gradient and update exactly 0. Those zeros are not
  // small steps; the probes before them moved the weights by 40–1800% a step.
  RunRecord r = test::healthy_falling();
  set_update_ratios(r, 0.5);
  for (size_t i = 2; i < r.probes.size(); ++i) {
    for (auto& l : r.probes[i].layers) {
      if (!l.has_weights) continue;
      l.update_ratio = 0;
      l.grad_norm = 0;
    }
  }
  ASSERT_GT(r.probes.size(), 5u);
  EXPECT_DOUBLE_EQ(read_signals(r).median_update_ratio, 0.5);
  EXPECT_EQ(candidate(run_rule(&rule_lr_too_low, r), "lr_too_low"), nullptr);
  EXPECT_TRUE(says(run_rule(&rule_lr_too_high, r), "lr_too_high", "by 50.0% of their norm"));
  // Near miss: weights that do not move although their gradient is not zero still count.
  for (size_t i = 2; i < r.probes.size(); ++i) {
    for (auto& l : r.probes[i].layers) l.grad_norm = l.has_weights ? 0.4 : 0.0;
  }
  EXPECT_DOUBLE_EQ(read_signals(r).median_update_ratio, 0.0);
}

TEST(RuleLrTooLow, AnUpdateRatioSymptomCountsOnlyInItsOwnDirection) {
  RunRecord r = test::healthy_falling();
  set_update_ratios(r, 1e-4);  // sluggish
  RuleInput in;
  Symptom overshoot = symptom("update_ratio_out_of_range");
  overshoot.value = 0.5;  // its worst layer moves by half its norm a step
  overshoot.evidence = {"layers[3].conv2d: too large"};
  in.symptoms = std::vector<Symptom>{overshoot};
  const Collector low = run_rule(&rule_lr_too_low, r, in);
  ASSERT_NE(candidate(low, "lr_too_low"), nullptr);
  EXPECT_FALSE(says(low, "lr_too_low", "too large"));
  Symptom tiny = overshoot;
  tiny.value = 2e-6;
  tiny.evidence = {"layers[3].conv2d: too small"};
  in.symptoms = std::vector<Symptom>{tiny};
  EXPECT_TRUE(says(run_rule(&rule_lr_too_low, r, in), "lr_too_low", "too small"));
  // And lr_too_high takes only the overshooting one.
  RunRecord fast = with_update_ratio(0.12);
  EXPECT_FALSE(says(run_rule(&rule_lr_too_high, fast, in), "lr_too_high", "too small"));
  in.symptoms = std::vector<Symptom>{overshoot};
  EXPECT_TRUE(says(run_rule(&rule_lr_too_high, fast, in), "lr_too_high", "too large"));
}

TEST(RuleLrTooLow, Penalties) {
  RunRecord r = test::healthy_falling();
  set_update_ratios(r, 1e-4);
  RuleInput in;
  in.symptoms = std::vector<Symptom>{};
  const double small = 0.4;  // small_updates, a stable run
  // sgd at 0.01 is a usual rate: the updates are small because the gradients are.
  const Collector usual = run_rule(&rule_lr_too_low, r, in);
  EXPECT_NEAR(confidence(usual, "lr_too_low"), small * 0.5, 1e-9);
  EXPECT_TRUE(says(usual, "lr_too_low", "against: lr 0.01 is usual for sgd"));
  RuleInput linted = in;
  linted.lint = {lint_finding("lr_too_low")};  // near miss: lint says the rate is low
  EXPECT_NEAR(confidence(run_rule(&rule_lr_too_low, r, linted), "lr_too_low"), small, 1e-9);

  RuleInput vanishing = linted;
  vanishing.symptoms = std::vector<Symptom>{symptom("vanishing_gradient")};
  EXPECT_NEAR(confidence(run_rule(&rule_lr_too_low, r, vanishing), "lr_too_low"), small * 0.5,
              1e-9);

  RuleInput seeded = linted;
  seeded.seeded = {"lr_too_low"};
  RunRecord frozen = test::healthy_falling();
  frozen.custom_loop = true;
  for (auto& s : frozen.steps) s.update_norm = 0.0;
  EXPECT_NEAR(confidence(run_rule(&rule_lr_too_low, frozen, seeded), "lr_too_low"), kSeed * 0.2,
              1e-9)
      << "updates exactly zero";
  frozen.custom_loop = false;  // near miss: lossdoctor's own trainer
  EXPECT_NEAR(confidence(run_rule(&rule_lr_too_low, frozen, seeded), "lr_too_low"), kSeed, 1e-9);

  RunRecord shrunk = test::healthy_falling();
  for (auto& s : shrunk.steps) s.lr = s.step < 300 ? 0.01 : 0.01 * 0.005;
  RuleInput schedule = seeded;
  schedule.lint.push_back(lint_finding("bad_lr_schedule"));
  EXPECT_NEAR(confidence(run_rule(&rule_lr_too_low, shrunk, schedule), "lr_too_low"), kSeed * 0.6,
              1e-9)
      << "the schedule shrank the rate";
  for (auto& s : shrunk.steps) s.lr = s.step < 300 ? 0.01 : 0.01 * 0.02;  // near miss: ÷50
  EXPECT_NEAR(confidence(run_rule(&rule_lr_too_low, shrunk, schedule), "lr_too_low"), kSeed, 1e-9);
}

// -- batch_too_small --------------------------------------------------------------------------

TEST(RuleBatchTooSmall, SmallBatchesInAnUnstableRun) {
  RunRecord r = test::healthy_falling();
  RuleInput unstable;
  unstable.symptoms = std::vector<Symptom>{symptom("loss_spikes")};
  r.batch_size = 8;
  const Collector c = run_rule(&rule_batch_too_small, r, unstable);
  EXPECT_TRUE(says(c, "batch_too_small", "batches of 8 samples"));
  EXPECT_NEAR(confidence(c, "batch_too_small"), 0.25, 1e-9);
  r.batch_size = 2;
  EXPECT_NEAR(confidence(run_rule(&rule_batch_too_small, r, unstable), "batch_too_small"), 0.45,
              1e-9);
  r.batch_size = 9;  // near miss
  EXPECT_EQ(candidate(run_rule(&rule_batch_too_small, r, unstable), "batch_too_small"), nullptr);
  r.batch_size = 8;  // near miss: a stable run
  EXPECT_EQ(candidate(run_rule(&rule_batch_too_small, r, stable()), "batch_too_small"), nullptr);
}

TEST(RuleBatchTooSmall, LargeBatchPenalty) {
  RunRecord r = test::healthy_falling();
  RuleInput in;
  in.seeded = {"batch_too_small"};
  r.batch_size = 16;  // the usual fix (32) would change it less than 2×: not small
  EXPECT_NEAR(confidence(run_rule(&rule_batch_too_small, r, in), "batch_too_small"), kSeed * 0.4,
              1e-9);
  r.batch_size = 15;  // near miss
  EXPECT_NEAR(confidence(run_rule(&rule_batch_too_small, r, in), "batch_too_small"), kSeed, 1e-9);
}

// -- bad_lr_schedule --------------------------------------------------------------------------

RunRecord with_lr_path(double first, double last) {
  RunRecord r = test::healthy_falling();
  for (auto& s : r.steps) s.lr = s.step < 200 ? first : last;
  return r;
}

TEST(RuleBadLrSchedule, RateGrows) {
  EXPECT_TRUE(says(run_rule(&rule_bad_lr_schedule, with_lr_path(0.01, 0.11)), "bad_lr_schedule",
                   "grew from 0.01 to 0.11"));
  EXPECT_EQ(candidate(run_rule(&rule_bad_lr_schedule, with_lr_path(0.01, 0.09)), "bad_lr_schedule"),
            nullptr);
}

TEST(RuleBadLrSchedule, RateDecaysToNothing) {
  const Collector c = run_rule(&rule_bad_lr_schedule, with_lr_path(0.01, 0.01 * 5e-4));
  EXPECT_TRUE(says(c, "bad_lr_schedule", "decayed from 0.01"));
  EXPECT_NEAR(confidence(c, "bad_lr_schedule"), 0.65, 1e-9);
  // It shows from the first frozen step: its rerun is judged from there.
  ASSERT_TRUE(candidate(c, "bad_lr_schedule")->first_step.has_value());
  EXPECT_EQ(*candidate(c, "bad_lr_schedule")->first_step, 200);
  EXPECT_EQ(candidate(run_rule(&rule_bad_lr_schedule, with_lr_path(0.01, 0.01 * 2e-3)),
                      "bad_lr_schedule"),
            nullptr);
}

TEST(RuleBadLrSchedule, AWarmUpToTheSpecsRateIsThePlanNotGrowth) {
  RunRecord r = test::healthy_falling();
  r.base_lr = 0.03;
  for (auto& s : r.steps) s.lr = 0.03 * std::min<double>(1.0, (s.step + 1) / 15.0);
  EXPECT_EQ(candidate(run_rule(&rule_bad_lr_schedule, r), "bad_lr_schedule"), nullptr);
  for (auto& s : r.steps) s.lr = 0.03 * std::pow(1.03, static_cast<double>(s.step));  // grows past
  EXPECT_TRUE(says(run_rule(&rule_bad_lr_schedule, r), "bad_lr_schedule", "the spec's rate: 0.03"));
}

TEST(RuleBadLrSchedule, ACosineToZeroAtThePlannedEndIsNotFrozen) {
  RunRecord r = test::healthy_falling();
  const auto n = static_cast<double>(r.steps.size());
  r.base_lr = 0.1;
  for (auto& s : r.steps) s.lr = 0.05 * (1 + std::cos(M_PI * (s.step + 1) / n));
  EXPECT_EQ(candidate(run_rule(&rule_bad_lr_schedule, r), "bad_lr_schedule"), nullptr);
  // The same decay over the first third of the run freezes the other two thirds.
  for (auto& s : r.steps) s.lr = 0.05 * (1 + std::cos(M_PI * std::min(1.0, 3 * (s.step + 1) / n)));
  EXPECT_TRUE(says(run_rule(&rule_bad_lr_schedule, r), "bad_lr_schedule", "ran below 0.001"));
}

TEST(RuleBadLrSchedule, AWarmUpFarLongerThanTheRunNeverReachesTheSpecsRate) {
  RunRecord r = test::healthy_falling();
  r.base_lr = 0.1;
  for (auto& s : r.steps) s.lr = 0.1 * (s.step + 1) / 30000.0;  // at most 1.3% of the rate
  EXPECT_TRUE(says(run_rule(&rule_bad_lr_schedule, r), "bad_lr_schedule", "never came within 20"));
  for (auto& s : r.steps) s.lr = 0.1 * (s.step + 1) / 6000.0;  // near miss: reaches 6.7%
  EXPECT_EQ(candidate(run_rule(&rule_bad_lr_schedule, r), "bad_lr_schedule"), nullptr);
}

// -- grad_clip_too_tight ----------------------------------------------------------------------

TEST(RuleGradClipTooTight, EveryStepShrunk) {
  RunRecord r = test::healthy_falling();  // gradient norms ≈ 1
  r.clip_grad_norm = 0.005;
  EXPECT_TRUE(
      says(run_rule(&rule_grad_clip_too_tight, r), "grad_clip_too_tight", "is clipped to 0.005"));
  const Collector c = run_rule(&rule_grad_clip_too_tight, r);
  const Candidate* observed = candidate(c, "grad_clip_too_tight");
  ASSERT_NE(observed, nullptr);
  EXPECT_TRUE(observed->observed());
}

TEST(RuleGradClipTooTight, MostStepsShortenedSeveralTimesIsOnlyWorthARerun) {
  RunRecord r = test::healthy_falling();  // gradient norms ≈ 1
  r.clip_grad_norm = 0.1;                 // ≈ 10×: below clipped_ratio, above screen_ratio
  const Collector c = run_rule(&rule_grad_clip_too_tight, r);
  const Candidate* screened = candidate(c, "grad_clip_too_tight");
  ASSERT_NE(screened, nullptr);
  EXPECT_TRUE(says(c, "grad_clip_too_tight", "most steps are shortened"));
  EXPECT_FALSE(screened->observed());
  EXPECT_TRUE(screened->raised_by_spec_or_data());
  r.clip_grad_norm = 0.25;  // near miss: ≈ 4×, like a healthy clip at 1
  EXPECT_EQ(candidate(run_rule(&rule_grad_clip_too_tight, r), "grad_clip_too_tight"), nullptr);
}

// -- gradients_not_reset ----------------------------------------------------------------------

RunRecord accumulating(double change_ratio) {
  RecordBuilder b;
  b.steps = 200;
  RunRecord r = b.build();
  r.custom_loop = true;
  for (auto& s : r.steps) {
    s.grad_norm = 1.0 + 0.05 * static_cast<double>(s.step);  // ≈ 4.4× from first to last quarter
    s.grad_change_ratio = change_ratio;
  }
  return r;
}

TEST(RuleGradientsNotReset, GradientsPileUp) {
  EXPECT_TRUE(says(run_rule(&rule_gradients_not_reset, accumulating(0.5)), "gradients_not_reset",
                   "gradients accumulate"));
  // Near misses: consecutive gradients differ by 80% (≥ 75%); a spec run.
  EXPECT_EQ(
      candidate(run_rule(&rule_gradients_not_reset, accumulating(0.8)), "gradients_not_reset"),
      nullptr);
  RunRecord spec_run = accumulating(0.5);
  spec_run.custom_loop = false;
  EXPECT_EQ(candidate(run_rule(&rule_gradients_not_reset, spec_run), "gradients_not_reset"),
            nullptr);
}

TEST(RuleGradientsNotReset, CountsAgainstLrTooHighAndBadInitScale) {
  RuleInput in;
  in.seeded = {"lr_too_high", "bad_init_scale"};
  in.symptoms = std::vector<Symptom>{};
  EXPECT_NEAR(confidence(run_rule(&rule_lr_too_high, accumulating(0.5), in), "lr_too_high"),
              kSeed * 0.4, 1e-9);
  EXPECT_NEAR(confidence(run_rule(&rule_bad_init_scale, accumulating(0.5), in), "bad_init_scale"),
              kSeed * 0.4, 1e-9);
  EXPECT_NEAR(confidence(run_rule(&rule_lr_too_high, accumulating(0.8), in), "lr_too_high"), kSeed,
              1e-9);
}

// -- params_not_updated -----------------------------------------------------------------------

RunRecord frozen_share(double share) {
  RunRecord r = test::healthy_falling();
  r.custom_loop = true;
  for (auto& s : r.steps) {
    if (static_cast<double>(s.step) < share * 400) s.update_norm = 0.0;
  }
  return r;
}

TEST(RuleParamsNotUpdated, WeightsDoNotMove) {
  const Collector c = run_rule(&rule_params_not_updated, frozen_share(0.6));
  EXPECT_TRUE(says(c, "params_not_updated", "did not change at 60% of steps"));
  EXPECT_NEAR(confidence(c, "params_not_updated"), 0.85, 1e-9);
  EXPECT_EQ(candidate(run_rule(&rule_params_not_updated, frozen_share(0.4)), "params_not_updated"),
            nullptr);
}

// -- loss_sign_flipped ------------------------------------------------------------------------

RunRecord negated_share(double share) {
  RunRecord r = test::healthy_falling();
  r.custom_loop = true;
  for (auto& s : r.steps) {
    s.reference_loss = s.loss;
    if (static_cast<double>(s.step) < share * 400) s.loss = -s.loss;
  }
  return r;
}

TEST(RuleLossSignFlipped, NegatedCrossEntropy) {
  EXPECT_TRUE(says(run_rule(&rule_loss_sign_flipped, negated_share(0.6)), "loss_sign_flipped",
                   "minus the cross-entropy at 60% of steps"));
  EXPECT_EQ(candidate(run_rule(&rule_loss_sign_flipped, negated_share(0.4)), "loss_sign_flipped"),
            nullptr);
}

TEST(RuleLossSignFlipped, NegativeCrossEntropy) {
  RunRecord r = test::healthy_falling();
  r.custom_loop = true;
  for (auto& s : r.steps) s.loss = -0.1;
  EXPECT_TRUE(
      says(run_rule(&rule_loss_sign_flipped, r), "loss_sign_flipped", "cannot be negative"));
  for (auto& s : r.steps) s.loss = -0.04;  // near miss
  EXPECT_EQ(candidate(run_rule(&rule_loss_sign_flipped, r), "loss_sign_flipped"), nullptr);
}

TEST(RuleGradientsNotReset, SeenDirectlyByThePythonMonitor) {
  RunRecord r = test::healthy_falling();
  r.custom_loop = true;
  r.loop.grads_not_reset_steps = static_cast<int64_t>(r.steps.size()) - 1;
  const Collector c = run_rule(&rule_gradients_not_reset, r);
  EXPECT_TRUE(says(c, "gradients_not_reset", "began with no zero_grad() call"));
  EXPECT_NEAR(confidence(c, "gradients_not_reset"), 0.9, 1e-9);
  r.loop.grads_not_reset_steps = static_cast<int64_t>(r.steps.size()) / 2;  // near miss
  EXPECT_EQ(candidate(run_rule(&rule_gradients_not_reset, r), "gradients_not_reset"), nullptr);
}

// -- model_in_eval_mode ------------------------------------------------------------------------

TEST(RuleModelInEvalMode, MostStepsInEvalMode) {
  RunRecord r = test::healthy_falling();
  r.custom_loop = true;
  r.loop.eval_mode_steps = static_cast<int64_t>(r.steps.size());
  const Collector c = run_rule(&rule_model_in_eval_mode, r);
  EXPECT_TRUE(says(c, "model_in_eval_mode", "with the model in eval mode"));
  EXPECT_NEAR(confidence(c, "model_in_eval_mode"), 0.9, 1e-9);
  r.loop.eval_mode_steps = static_cast<int64_t>(r.steps.size()) / 2;  // near miss: half
  EXPECT_EQ(candidate(run_rule(&rule_model_in_eval_mode, r), "model_in_eval_mode"), nullptr);
  r.loop.eval_mode_steps = static_cast<int64_t>(r.steps.size());
  r.custom_loop = false;  // near miss: lossdoctor's own trainer
  EXPECT_EQ(candidate(run_rule(&rule_model_in_eval_mode, r), "model_in_eval_mode"), nullptr);
}

// -- loss_output_mismatch (loop signals) -------------------------------------------------------

TEST(RuleLossOutputMismatch, ProbabilitiesIntoAFromLogitsLoss) {
  RunRecord r = test::healthy_falling();
  r.custom_loop = true;
  const auto n = static_cast<int64_t>(r.steps.size());
  r.loop.probability_output_steps = n;
  Collector c = run_rule(&rule_loss_output_mismatch, r);
  EXPECT_TRUE(says(c, "loss_output_mismatch", "already probabilities"));
  EXPECT_NEAR(confidence(c, "loss_output_mismatch"), 0.85, 1e-9);
  r.loop.probability_output_steps = n / 2;  // near miss
  EXPECT_EQ(candidate(run_rule(&rule_loss_output_mismatch, r), "loss_output_mismatch"), nullptr);
  r.loop.labels_out_of_range_steps = n;
  r.loop.largest_label = 10;
  c = run_rule(&rule_loss_output_mismatch, r);
  EXPECT_TRUE(says(c, "loss_output_mismatch", "largest target 10"));
}

TEST(RuleParamsNotUpdated, OptimizerBuiltOnOtherParameters) {
  RunRecord r = test::healthy_falling();
  r.custom_loop = true;
  r.loop.model_params = 4;
  r.loop.params_missing_from_optimizer = 4;
  r.loop.optimizer_params_not_in_model = 4;
  const Collector c = run_rule(&rule_params_not_updated, r);
  EXPECT_TRUE(says(c, "params_not_updated", "holds 0 of the model's 4 parameter tensors"));
  r.loop.params_missing_from_optimizer = 0;  // near miss: all held (an extra one is harmless)
  r.loop.optimizer_params_not_in_model = 1;
  EXPECT_EQ(candidate(run_rule(&rule_params_not_updated, r), "params_not_updated"), nullptr);
}

// -- The registry ------------------------------------------------------------------------------

TEST(CauseRules, OneRulePerCauseInCauseIdsOrder) {
  std::vector<std::string> expected;
  for (const auto& id : cause_ids()) {
    if (id != "healthy") expected.push_back(id);
  }
  std::vector<std::string> got;
  for (const auto& rule : cause_rules()) got.push_back(rule.cause);
  EXPECT_EQ(got, expected);
}

TEST(CauseRules, SilentOnHealthyRuns) {
  for (const RunRecord& r :
       {test::healthy_falling(), test::healthy_staircase(), test::healthy_label_smoothing(),
        test::healthy_heavy_augmentation(), test::healthy_overfitting()}) {
    for (const auto& rule : cause_rules()) {
      if (rule.apply == nullptr) continue;
      const Collector c = run_rule(rule.apply, r);
      EXPECT_TRUE(c.candidates().empty()) << rule.cause << " adds evidence to a healthy run";
    }
  }
}

TEST(CauseRules, EachRuleSpeaksOnlyForAndAgainstItsOwnCause) {
  // Records on which many rules fire, every cause seeded: a rule may change only its own.
  RunRecord sink = with_update_ratio(0.3);
  for (auto& s : sink.steps) {
    s.input = {72.9, 90.0, 0.0, 255.0, 0.0};
    s.weight_norm = 20.0 * (1 + 30.0 * static_cast<double>(s.step) / 399.0);
    s.odd_input_fraction = 0.05;
    s.lr = s.step < 200 ? 0.01 : 0.5;
    s.label_histogram.assign(10, 5);
    s.label_histogram[0] = 25;
  }
  sink.first_nonfinite = NonFiniteOrigin{300, "input", false};
  sink.batch_size = 2;
  sink.clip_grad_norm = 1e-3;
  sink.probes.front().layers[4].weight_norm = 0.0;
  RunRecord loop = accumulating(0.5);
  for (auto& s : loop.steps) {
    s.update_norm = 0.0;
    s.reference_loss = s.loss;
    s.loss = -s.loss;
  }
  RuleInput in;
  for (const auto& id : cause_ids()) {
    if (id != "healthy") in.seeded.push_back(id);
  }
  in.lint = {lint_finding("excessive_regularization"), lint_finding("bad_lr_schedule")};
  const RunRecord labels = noisy_labels(0.72, 0.15);
  for (const RunRecord* r : std::vector<const RunRecord*>{&sink, &loop, &labels}) {
    for (const auto& rule : cause_rules()) {
      if (rule.apply == nullptr) continue;
      const Collector c = run_rule(rule.apply, *r, in);
      EXPECT_EQ(c.candidates().size(), in.seeded.size()) << rule.cause << " created a candidate";
      for (const auto& [cause, k] : c.candidates()) {
        if (cause != rule.cause) {
          EXPECT_NEAR(k.confidence(), kSeed, 1e-12) << rule.cause << " → " << cause;
        }
      }
    }
  }
}

TEST(CauseRules, CausesWithoutARecordSignalHaveOtherEvidence) {
  const DiagnoserOptions options;
  for (const auto& rule : cause_rules()) {
    if (rule.apply != nullptr) continue;
    bool in_table = false;
    for (const auto& [symptom_id, row] : options.symptom_weights) {
      for (const auto& [cause, w] : row) in_table |= cause == rule.cause && w > 0;
    }
    EXPECT_TRUE(in_table) << rule.cause << ": no symptom speaks for it";
    EXPECT_FALSE(report::cause_info(rule.cause).lint_rules.empty() &&
                 report::cause_info(rule.cause).audit_checks.empty())
        << rule.cause << ": no lint rule or audit check speaks for it";
  }
}

TEST(CauseRules, SymptomTableNamesKnownIds) {
  const DiagnoserOptions options;
  for (const auto& [symptom_id, row] : options.symptom_weights) {
    EXPECT_NE(std::find(symptom_ids().begin(), symptom_ids().end(), symptom_id),
              symptom_ids().end())
        << symptom_id;
    for (const auto& [cause, w] : row) {
      EXPECT_TRUE(report::is_known_cause(cause)) << symptom_id << " → " << cause;
      EXPECT_GT(w, 0.0);
      EXPECT_LE(w, 1.0);
    }
  }
}

// -- The options are read ----------------------------------------------------------------------

bool evidence_has(const Diagnosis& d, const std::string& cause, const std::string& text) {
  for (const auto& f : d.findings) {
    if (f.cause != cause) continue;
    for (const auto& e : f.evidence) {
      if (e.find(text) != std::string::npos) return true;
    }
  }
  return false;
}

double confidence_in(const Diagnosis& d, const std::string& cause) {
  for (const auto& f : d.findings) {
    if (f.cause == cause) return f.confidence;
  }
  return 0.0;
}

TEST(DiagnoserOptions, RaisingTheUpdateRatioThresholdRemovesThatEvidence) {
  RunRecord r = with_update_ratio(0.12);
  const auto symptoms = detect_symptoms(r);
  DiagnoserOptions options;
  // Keep every suspicion as a finding (a healthy verdict would replace them), to see evidence.
  options.report_threshold = 0.0;
  options.verdict.unhealthy_confidence = 0.0;
  const Diagnosis before = diagnose(r, symptoms, {}, {}, options);
  EXPECT_TRUE(evidence_has(before, "lr_too_high", "each step changes the weights by 12.0%"));
  options.lr_too_high.large_update_ratio = 0.2;
  const Diagnosis after = diagnose(r, symptoms, {}, {}, options);
  EXPECT_FALSE(evidence_has(after, "lr_too_high", "each step changes the weights"));
  EXPECT_LT(confidence_in(after, "lr_too_high"), confidence_in(before, "lr_too_high"));
}

TEST(DiagnoserOptions, TheSymptomTableIsRead) {
  RunRecord r = test::healthy_falling();
  for (auto& s : r.steps) {
    s.label_histogram.assign(10, 0);
    s.label_histogram[static_cast<size_t>((s.step / 30) % 10)] = 64;  // class-ordered batches
  }
  const auto symptoms = detect_symptoms(r);
  EXPECT_GT(confidence_in(diagnose(r, symptoms, {}), "unshuffled_data"), kUnhealthyThreshold);
  DiagnoserOptions options;
  options.symptom_weights["batch_label_runs"] = {};
  EXPECT_EQ(confidence_in(diagnose(r, symptoms, {}, {}, options), "unshuffled_data"), 0.0);
}

TEST(DiagnoserOptions, ThresholdsAndTheVerdictAreRead) {
  const RunRecord r = test::healthy_falling();
  Finding lint = lint_finding("lr_too_high");
  lint.confidence = 0.9;
  // Spec-only suspicion on a run that trains normally: 0.6 × 0.9 × (1 − 0.45) ≈ 0.30.
  DiagnoserOptions options;
  EXPECT_EQ(diagnose(r, detect_symptoms(r), {lint}, {}, options).verdict, "healthy");
  options.static_findings.trains_normally_penalty = 0.0;  // 0.54
  EXPECT_EQ(diagnose(r, detect_symptoms(r), {lint}, {}, options).verdict, "unhealthy");
  options.verdict.unhealthy_confidence = 0.6;
  EXPECT_EQ(diagnose(r, detect_symptoms(r), {lint}, {}, options).verdict, "healthy");
}

// -- Order independence -----------------------------------------------------------------------

/// Confidences after running the rules in the given order over `r`.
std::map<std::string, double> confidences_in_order(const RunRecord& r,
                                                   const std::vector<CauseRule>& rules) {
  const RecordSignals sig = read_signals(r);
  const std::vector<Symptom> symptoms = detect_symptoms(r);
  const std::vector<Finding> none;
  const DiagnoserOptions options;
  const RuleContext ctx = make_rule_context(r, sig, symptoms, none, none, options);
  Collector out(options);
  for (const auto& rule : rules) {
    if (rule.apply != nullptr) rule.apply(ctx, out);
  }
  out.apply_penalties();
  std::map<std::string, double> conf;
  for (const auto& [cause, c] : out.candidates()) conf[cause] = c.confidence();
  return conf;
}

TEST(CauseRules, PenaltiesDoNotDependOnRuleOrder) {
  // Raw inputs, large updates, a ballooning weight norm, NaN from the data, tiny batches:
  // evidence and penalties for lr_too_high come from several rules.
  RunRecord r = with_update_ratio(0.3);
  for (auto& s : r.steps) {
    s.input = {72.9, 90.0, 0.0, 255.0, 0.0};
    s.weight_norm = 20.0 * (1 + 30.0 * static_cast<double>(s.step) / 399.0);
  }
  r.first_nonfinite = NonFiniteOrigin{300, "input", false};
  r.batch_size = 2;
  std::vector<CauseRule> reversed(cause_rules().rbegin(), cause_rules().rend());
  const auto forward = confidences_in_order(r, cause_rules());
  const auto backward = confidences_in_order(r, reversed);
  ASSERT_EQ(forward.size(), backward.size());
  ASSERT_TRUE(forward.count("lr_too_high"));
  for (const auto& [cause, conf] : forward) {
    EXPECT_NEAR(conf, backward.at(cause), 1e-12) << cause;
  }
}

TEST(Collector, PenaltiesWaitForTheEvidenceAndCreateNoCandidate) {
  const DiagnoserOptions options;
  Collector out(options);
  out.penalise("lr_too_high", 0.5, "queued before any evidence");
  out.penalise("lr_too_low", 0.5, "a cause without evidence");
  out.evidence("lr_too_high").add(0.6, "evidence after the penalty");
  out.apply_penalties();
  EXPECT_NEAR(out.candidates().at("lr_too_high").confidence(), 0.3, 1e-12);
  EXPECT_EQ(out.candidates().count("lr_too_low"), 0u);
  const auto lines = out.candidates().at("lr_too_high").ordered_evidence();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines.back(), "against: queued before any evidence") << "against lines come last";
}

TEST(Collector, StaticEvidenceIsNotAnObservation) {
  const DiagnoserOptions options;
  Collector out(options);
  out.evidence("lr_too_high").add_static(0.5, "spec: lr 1 for adam");
  EXPECT_FALSE(out.candidates().at("lr_too_high").observed());
  out.evidence("lr_too_high").add(0.2, "the run itself");
  EXPECT_TRUE(out.candidates().at("lr_too_high").observed());
  EXPECT_NEAR(out.candidates().at("lr_too_high").confidence(), 1 - 0.5 * 0.8, 1e-12);
}

// The order-independence at the level of diagnose(): raw inputs count against lr_too_high even
// when lr_too_high's only evidence is a record signal (before the rules, that penalty applied
// only if a symptom or lint had already named lr_too_high).
TEST(CauseRules, RawInputsCountAgainstLrTooHighWhateverItsEvidence) {
  RunRecord r = test::healthy_falling();
  for (auto& s : r.steps) {
    s.input = {72.9, 90.0, 0.0, 255.0, 0.0};
    s.weight_norm = 20.0 * (1 + 30.0 * static_cast<double>(s.step) / 399.0);
  }
  const auto symptoms = detect_symptoms(r);
  ASSERT_TRUE(std::none_of(symptoms.begin(), symptoms.end(), [](const Symptom& s) {
    return s.id == "nan_loss" || s.id == "diverging_loss" || s.id == "oscillating_loss" ||
           s.id == "loss_spikes" || s.id == "exploding_gradient" || s.id == "dead_units";
  })) << "precondition: no symptom speaks for lr_too_high";
  DiagnoserOptions options;
  options.report_threshold = 0.0;  // show every candidate
  options.verdict.unhealthy_confidence = 0.0;
  const Diagnosis d = diagnose(r, symptoms, {}, {}, options);
  // The weight norm growth (0.45), less 30 % for the raw inputs.
  EXPECT_NEAR(confidence_in(d, "lr_too_high"), 0.45 * 0.7, 1e-9);
  EXPECT_TRUE(evidence_has(d, "lr_too_high", "against: the inputs are unnormalised"));
}

}  // namespace
}  // namespace lossdoctor::diagnose
