// Loss-curve detectors: nan_loss, diverging_loss, loss_spikes, oscillating_loss,
// plateau_at_chance, slow_convergence, bad_initial_loss.
#include <gtest/gtest.h>

#include <cmath>

#include "diagnose/record_builder.hpp"
#include "lossdoctor/diagnose/detectors.hpp"

namespace lossdoctor::diagnose {
namespace {

using test::RecordBuilder;

bool mentions(const Symptom& s, const std::string& text) {
  for (const auto& e : s.evidence) {
    if (e.find(text) != std::string::npos) return true;
  }
  return false;
}

// nan_loss ---------------------------------------------------------------------------------------

TEST(NanLoss, FirstNonFiniteStepAndOriginLayer) {
  RunRecord r = test::healthy_falling();
  for (auto& s : r.steps) {
    if (s.step >= 120) s.loss = std::nan("");
  }
  r.steps[121].loss = INFINITY;
  r.first_nonfinite = NonFiniteOrigin{120, "layers[4].conv2d", false};
  const auto found = detect_nan_loss(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].id, "nan_loss");
  EXPECT_EQ(found[0].step, 120);
  EXPECT_EQ(found[0].layer, "layers[4].conv2d");
  EXPECT_NEAR(found[0].value, 280.0 / 400.0, 1e-9);
  EXPECT_TRUE(mentions(found[0], "step 120"));
}

TEST(NanLoss, FiresEvenWhenTheRunStoppedEarly) {
  RunRecord r = RecordBuilder().with_steps(8).build();
  r.steps[5].loss = std::nan("");
  r.steps.resize(6);
  const auto found = detect_nan_loss(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].step, 5);
  EXPECT_TRUE(found[0].layer.empty());
}

TEST(NanLoss, NearMissNonFiniteGradientWithFiniteLoss) {
  RunRecord r = test::healthy_falling();
  r.first_nonfinite = NonFiniteOrigin{50, "layers[7].dense", true};
  EXPECT_TRUE(detect_nan_loss(r).empty());
}

// diverging_loss ---------------------------------------------------------------------------------

TEST(DivergingLoss, SustainedExponentialRise) {
  RunRecord r =
      RecordBuilder()
          .with_loss([](int64_t t) { return 2.3 * std::exp(static_cast<double>(t) / 100.0); }, 0.15)
          .with_steps(300)
          .build();
  const auto found = detect_diverging_loss(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_LT(found[0].step, 60);
  EXPECT_GT(found[0].value, 30.0);
  EXPECT_TRUE(mentions(found[0], "Theil–Sen slope +"));
  EXPECT_GT(found[0].severity, 0.5);
}

TEST(DivergingLoss, FastBlowUpThenNaN) {
  // loss 2.31 → 41.7 over steps 0–14, NaN from step 15: judged on the finite prefix.
  RunRecord r =
      RecordBuilder()
          .with_loss([](int64_t t) { return 2.31 * std::exp(0.2065 * static_cast<double>(t)); },
                     0.0)
          .with_steps(17)
          .build();
  r.steps[15].loss = r.steps[16].loss = std::nan("");
  const auto found = detect_diverging_loss(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_LE(found[0].step, 5);
  EXPECT_NEAR(found[0].value, 41.7, 6.0);
  EXPECT_TRUE(mentions(found[0], "non-finite at step 15"));
}

TEST(DivergingLoss, BackAboveChanceAfterLearning) {
  RunRecord r = RecordBuilder()
                    .with_loss(
                        [](int64_t t) {
                          if (t < 150) return 2.3 - 1.3 * static_cast<double>(t) / 150.0;
                          if (t < 200) return 1.0 + 1.6 * static_cast<double>(t - 150) / 50.0;
                          return 2.6;
                        },
                        0.1)
                    .build();
  const auto found = detect_diverging_loss(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_GE(found[0].step, 140);
  EXPECT_LE(found[0].step, 200);
}

TEST(DivergingLoss, NearMissOneHugeSpike) {
  RunRecord r = test::healthy_falling();
  r.steps[200].loss = 30.0;
  EXPECT_TRUE(detect_diverging_loss(r).empty());
}

TEST(DivergingLoss, NearMissEarlyBumpThatRecovers) {
  RunRecord r = RecordBuilder()
                    .with_loss(
                        [](int64_t t) {
                          const double x = static_cast<double>(t);
                          return t < 8 ? 2.3 + 0.08 * x : 2.94 * std::exp(-(x - 8) / 120.0) + 0.2;
                        },
                        0.1)
                    .build();
  EXPECT_TRUE(detect_diverging_loss(r).empty());
}

/// A warm-up climb like held-out zoo 12's n21 controls: 3.37 → 7.1 over steps 0–20, back to the
/// start by step 30, then learning to ~0.7.
double warm_up_climb(int64_t t) {
  const double x = static_cast<double>(t);
  if (t <= 20) return 3.37 + 0.185 * x;
  if (t <= 30) return 7.07 - 0.37 * (x - 20);
  return 0.6 + 2.77 * std::exp(-(x - 30) / 25.0);
}

TEST(DivergingLoss, NearMissAWarmUpClimbTheRunRecoversFrom) {
  RunRecord r = RecordBuilder().with_loss(warm_up_climb, 0.05).with_steps(100).build();
  r.num_classes = 21;
  EXPECT_TRUE(detect_diverging_loss(r).empty());
  // The report still says what happened, with its numbers.
  const std::string note = recovered_climb_note(r);
  EXPECT_NE(note.find("the loss climbed"), std::string::npos) << note;
  EXPECT_NE(note.find("and recovered"), std::string::npos) << note;
}

TEST(DivergingLoss, OnlyARecoveredClimbLeavesANote) {
  // A climb that is still divergence speaks through its symptom; a run without one says nothing.
  RunRecord climbing = RecordBuilder().with_loss(warm_up_climb, 0.05).with_steps(50).build();
  climbing.num_classes = 21;
  ASSERT_EQ(detect_diverging_loss(climbing).size(), 1u);
  EXPECT_EQ(recovered_climb_note(climbing), "");
  EXPECT_EQ(recovered_climb_note(test::healthy_falling()), "");
}

TEST(DivergingLoss, AClimbStaysDivergenceUntilTheRecoveryHasLastedAsLongAsTheClimb) {
  // At step 50 the loss has only just come back below 0.7 ln K, 35 steps after the climb began.
  RunRecord r = RecordBuilder().with_loss(warm_up_climb, 0.05).with_steps(50).build();
  r.num_classes = 21;
  EXPECT_EQ(detect_diverging_loss(r).size(), 1u);
  // At step 70 it is receding (back below 0.7 ln K, not yet for long enough): still a symptom,
  // marked so that the early stop does not rest on it.
  r = RecordBuilder().with_loss(warm_up_climb, 0.05).with_steps(70).build();
  r.num_classes = 21;
  const auto receding = detect_diverging_loss(r);
  ASSERT_EQ(receding.size(), 1u);
  EXPECT_TRUE(receding[0].receding);
  EXPECT_TRUE(mentions(receding[0], "receding: smoothed loss below"));
  // While it still climbs it is not.
  r = RecordBuilder().with_loss(warm_up_climb, 0.05).with_steps(28).build();
  r.num_classes = 21;
  const auto climbing = detect_diverging_loss(r);
  ASSERT_EQ(climbing.size(), 1u);
  EXPECT_FALSE(climbing[0].receding);
}

TEST(DivergingLoss, ARecoveredLossWithValidationAtChanceIsStillDivergence) {
  // Sorted data: the training loss falls inside each class's block while validation stays at
  // chance. The loss alone does not tell: validation, where measured, must be above chance.
  RunRecord r = RecordBuilder().with_loss(warm_up_climb, 0.05).with_steps(100).build();
  r.num_classes = 21;
  EpochSample e;
  e.step = 90;
  e.val_accuracy = 1.0 / 21 + 0.02;
  r.epochs.push_back(e);
  EXPECT_EQ(detect_diverging_loss(r).size(), 1u);
}

TEST(DivergingLoss, AClimbAfterLearningThatSettlesAboveTheEarlierLowIsStillDivergence) {
  // Learned to 0.4 by step 100, climbed to 6 for 30 steps and settled at 0.9: below chance,
  // but more than twice the earlier low, so the run lost what it had learned.
  RunRecord r = RecordBuilder()
                    .with_loss(
                        [](int64_t t) {
                          const double x = static_cast<double>(t);
                          if (t < 100) return 0.4 + 1.9 * std::exp(-x / 20.0);
                          if (t < 115) return 0.4 + 5.6 * (x - 100) / 15.0;
                          if (t < 130) return 6.0;
                          return 0.9 + 5.1 * std::exp(-(x - 130) / 10.0);
                        },
                        0.03)
                    .with_steps(300)
                    .build();
  EXPECT_EQ(detect_diverging_loss(r).size(), 1u);
  // The same climb settling back at the earlier low is over.
  for (auto& s : r.steps) {
    if (s.step >= 130) s.loss = 0.4 + 5.6 * std::exp(-static_cast<double>(s.step - 130) / 10.0);
  }
  EXPECT_TRUE(detect_diverging_loss(r).empty());
}

// loss_spikes ------------------------------------------------------------------------------------

TEST(LossSpikes, CountsIsolatedJumps) {
  RunRecord r = test::healthy_falling();
  for (int64_t t : {100, 250, 330}) r.steps[static_cast<size_t>(t)].loss *= 4.0;
  const auto found = detect_loss_spikes(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].step, 100);
  EXPECT_EQ(found[0].value, 3.0);
  EXPECT_TRUE(mentions(found[0], "250"));
}

TEST(LossSpikes, OneLargeSpikeIsEnough) {
  RunRecord r = test::healthy_falling();
  r.steps[200].loss = 10.0;
  const auto found = detect_loss_spikes(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].step, 200);
  EXPECT_EQ(found[0].value, 1.0);
}

TEST(LossSpikes, NearMissModestBump) {
  RunRecord r = test::healthy_falling();
  r.steps[300].loss = 1.3;  // local level ~0.6 with σ 0.15: under median + 6·MAD
  EXPECT_TRUE(detect_loss_spikes(r).empty());
}

TEST(LossSpikes, NearMissLevelShiftIsNotASpike) {
  RunRecord r = test::healthy_falling();
  for (auto& s : r.steps) {
    if (s.step >= 300) s.loss += 2.0;
  }
  EXPECT_TRUE(detect_loss_spikes(r).empty());
}

// oscillating_loss -------------------------------------------------------------------------------

TEST(OscillatingLoss, LargeSwingsWithoutDescent) {
  RunRecord r = RecordBuilder()
                    .with_loss([](int64_t t) { return (t / 3) % 2 == 0 ? 0.6 : 2.4; }, 0.1)
                    .build();
  const auto found = detect_oscillating_loss(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].step, 0);
  EXPECT_GT(found[0].value, 1.0);
}

TEST(OscillatingLoss, SlowWavesFromUnshuffledData) {
  RunRecord r =
      RecordBuilder()
          .with_loss([](int64_t t) { return 1.4 + 1.1 * std::sin(static_cast<double>(t) / 8.0); },
                     0.1)
          .build();
  EXPECT_EQ(detect_oscillating_loss(r).size(), 1u);
}

TEST(OscillatingLoss, NearMissNoisyPlateau) {
  RunRecord r = RecordBuilder().with_loss([](int64_t) { return 1.5; }, 0.3).build();
  EXPECT_TRUE(detect_oscillating_loss(r).empty());
}

TEST(OscillatingLoss, NearMissConvergedJitterNearZero) {
  RunRecord r =
      RecordBuilder().with_loss([](int64_t t) { return t < 100 ? 2.0 : 0.03; }, 0.03).build();
  EXPECT_TRUE(detect_oscillating_loss(r).empty());
}

// plateau_at_chance ------------------------------------------------------------------------------

TEST(PlateauAtChance, StuckAtLnK) {
  RunRecord r = RecordBuilder().with_loss([](int64_t) { return 2.3; }, 0.05).build();
  const auto found = detect_plateau_at_chance(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NEAR(found[0].value, 2.3, 0.02);
  EXPECT_EQ(found[0].step, 50);
  EXPECT_TRUE(mentions(found[0], "ln 10 = 2.3"));
}

TEST(PlateauAtChance, BinaryClassifier) {
  RecordBuilder b;
  b.num_classes = 2;
  b.with_loss([](int64_t) { return std::log(2.0); }, 0.03);
  EXPECT_EQ(detect_plateau_at_chance(b.build()).size(), 1u);
}

TEST(PlateauAtChance, NearMissPlateauBelowChance) {
  RunRecord r = RecordBuilder().with_loss([](int64_t) { return 1.9; }, 0.05).build();
  EXPECT_TRUE(detect_plateau_at_chance(r).empty());
}

TEST(PlateauAtChance, NearMissNotAClassificationLoss) {
  RecordBuilder b;
  b.loss_type = "mse";
  b.with_loss([](int64_t) { return 2.3; }, 0.05);
  EXPECT_TRUE(detect_plateau_at_chance(b.build()).empty());
}

/// A run whose training loss falls but whose validation accuracy stays at `val_accuracy`.
RunRecord validation_stuck_at(double val_accuracy, int64_t classes, int64_t steps = 400) {
  RecordBuilder b;
  b.num_classes = classes;
  b.steps_per_epoch = 100;
  b.with_steps(steps);
  RunRecord r = b.build();
  for (auto& e : r.epochs) {
    e.val_accuracy = val_accuracy;
    e.val_loss = std::log(static_cast<double>(classes)) * 1.02;
  }
  return r;
}

TEST(PlateauAtChance, ValidationAtChanceForFourClasses) {
  // 24.6% on 4 classes is chance (25%), not evidence of health.
  const auto found = detect_plateau_at_chance(validation_stuck_at(0.246, 4));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_TRUE(mentions(found[0], "chance for 4 classes is 1/4 = 25")) << found[0].evidence[0];
  EXPECT_EQ(found[0].step, 399);
}

TEST(PlateauAtChance, ValidationAtChanceForTenClasses) {
  EXPECT_EQ(detect_plateau_at_chance(validation_stuck_at(0.107, 10)).size(), 1u);
}

TEST(PlateauAtChance, NearMissValidationAboveChanceForItsK) {
  // 40% would be near chance for 2 classes, but is well above it for 10 — and 45% for 4.
  RunRecord ten = validation_stuck_at(0.40, 10);
  for (auto& e : ten.epochs) e.val_loss = 1.6;
  EXPECT_TRUE(detect_plateau_at_chance(ten).empty());
  RunRecord four = validation_stuck_at(0.45, 4);
  for (auto& e : four.epochs) e.val_loss = 1.1;
  EXPECT_TRUE(detect_plateau_at_chance(four).empty());
}

TEST(PlateauAtChance, NearMissValidationTooEarlyToJudge) {
  // A slow start (warmup) is not a fault: the first validation at step 99 is not judged.
  EXPECT_TRUE(detect_plateau_at_chance(validation_stuck_at(0.25, 4, 120)).empty());
}

// slow_convergence -------------------------------------------------------------------------------

TEST(SlowConvergence, FallsTooLittle) {
  RunRecord r =
      RecordBuilder()
          .with_loss([](int64_t t) { return 1.5 - 0.1 * static_cast<double>(t) / 400.0; }, 0.05)
          .build();
  const auto found = detect_slow_convergence(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_GT(found[0].value, 0.0);
  EXPECT_LT(found[0].value, 0.10);
  EXPECT_TRUE(mentions(found[0], "lower"));
}

TEST(SlowConvergence, NearMissFallsEnough) {
  RunRecord r =
      RecordBuilder()
          .with_loss([](int64_t t) { return 1.5 - 0.3 * static_cast<double>(t) / 400.0; }, 0.05)
          .build();
  EXPECT_TRUE(detect_slow_convergence(r).empty());
}

TEST(SlowConvergence, NearMissStuckAtChanceIsPlateau) {
  RunRecord r = RecordBuilder().with_loss([](int64_t) { return 2.3; }, 0.05).build();
  EXPECT_TRUE(detect_slow_convergence(r).empty());
  EXPECT_EQ(detect_plateau_at_chance(r).size(), 1u);
}

TEST(SlowConvergence, NearMissShortRun) {
  RunRecord r = RecordBuilder().with_loss([](int64_t) { return 1.5; }, 0.05).with_steps(60).build();
  EXPECT_TRUE(detect_slow_convergence(r).empty());
}

// bad_initial_loss -------------------------------------------------------------------------------

TEST(BadInitialLoss, FarAboveLnK) {
  RunRecord r =
      RecordBuilder()
          .with_loss(
              [](int64_t t) { return 40.0 * std::exp(-static_cast<double>(t) / 10.0) + 0.5; }, 0.1)
          .build();
  const auto found = detect_bad_initial_loss(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].step, 0);
  EXPECT_GT(found[0].value, 30.0);
  EXPECT_TRUE(mentions(found[0], "ln 10"));
}

TEST(BadInitialLoss, FarBelowLnK) {
  RunRecord r = RecordBuilder().with_loss([](int64_t) { return 0.2; }, 0.01).build();
  const auto found = detect_bad_initial_loss(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NEAR(found[0].value, 0.2, 0.03);
}

TEST(BadInitialLoss, NearMissSomewhatHigh) {
  RunRecord r =
      RecordBuilder()
          .with_loss([](int64_t t) { return 5.0 * std::exp(-static_cast<double>(t) / 50.0) + 0.3; },
                     0.1)
          .build();
  EXPECT_TRUE(detect_bad_initial_loss(r).empty());
}

TEST(BadInitialLoss, NearMissMseIsNotJudged) {
  RecordBuilder b;
  b.loss_type = "mse";
  b.with_loss([](int64_t) { return 40.0; }, 0.1);
  EXPECT_TRUE(detect_bad_initial_loss(b.build()).empty());
}

}  // namespace
}  // namespace lossdoctor::diagnose
