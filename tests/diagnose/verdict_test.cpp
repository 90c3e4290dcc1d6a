// The verdict rule (verdict.hpp) on hand-made findings and symptoms: refuted findings never make
// a run unhealthy, confirmed ones always do, hard symptoms always do. No torch.

#include "lossdoctor/diagnose/verdict.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "lossdoctor/diagnose/series.hpp"

namespace lossdoctor::diagnose {
namespace {

Finding finding(const std::string& cause, double confidence, const std::string& status) {
  Finding f;
  f.cause = cause;
  f.confidence = confidence;
  f.status = status;
  return f;
}

Symptom symptom(const std::string& id) {
  Symptom s;
  s.id = id;
  s.step = 40;
  return s;
}

TEST(Verdict, ARefutedFindingNeverMakesTheRunUnhealthy) {
  const auto v = decide_verdict({finding("lr_too_high", 0.99, "refuted")}, {symptom("dead_units")});
  EXPECT_EQ(v.verdict, "healthy") << v.reason;
  EXPECT_NE(v.reason.find("refuted"), std::string::npos) << v.reason;
}

TEST(Verdict, AConfirmedFindingMakesTheRunUnhealthyAtAnyConfidence) {
  const auto v = decide_verdict(
      {finding("healthy", 0.9, "suspected"), finding("bad_lr_schedule", 0.2, "confirmed")}, {});
  EXPECT_EQ(v.verdict, "unhealthy");
  EXPECT_NE(v.reason.find("bad_lr_schedule"), std::string::npos) << v.reason;
}

TEST(Verdict, ASuspectedFindingNeedsTheUnhealthyConfidence) {
  VerdictOptions o;
  EXPECT_EQ(
      decide_verdict({finding("lr_too_low", o.unhealthy_confidence, "suspected")}, {}, o).verdict,
      "unhealthy");
  EXPECT_EQ(
      decide_verdict({finding("lr_too_low", o.unhealthy_confidence - 0.01, "suspected")}, {}, o)
          .verdict,
      "healthy");
}

TEST(Verdict, HardSymptomsMakeTheRunUnhealthyEvenWhenEveryFindingWasRefuted) {
  for (const auto& id : hard_symptom_ids()) {
    const auto v = decide_verdict({finding("lr_too_high", 0.4, "refuted")}, {symptom(id)});
    EXPECT_EQ(v.verdict, "unhealthy") << id;
    EXPECT_TRUE(v.hard_symptom) << id;
    EXPECT_NE(v.reason.find(id), std::string::npos) << v.reason;
  }
  // Near misses: soft symptoms alone decide nothing.
  for (const char* id : {"loss_spikes", "dead_units", "noisy_gradient", "overfitting"}) {
    EXPECT_FALSE(is_hard_symptom(id)) << id;
    EXPECT_EQ(decide_verdict({}, {symptom(id)}).verdict, "healthy") << id;
  }
}

TEST(Verdict, TheHealthyFindingItselfCountsForNothing) {
  EXPECT_EQ(decide_verdict({finding("healthy", 0.95, "suspected")}, {}).verdict, "healthy");
}

}  // namespace
}  // namespace lossdoctor::diagnose

namespace lossdoctor::diagnose {
namespace {

TEST(EarlyStop, HealthyAndAWaitAtChanceNeedTheLongerRun) {
  Symptom chance;
  chance.id = "plateau_at_chance";
  Symptom nan;
  nan.id = "nan_loss";
  EXPECT_EQ(early_stop_min_steps("lr_too_high", {}, 100, 250), 100);
  EXPECT_EQ(early_stop_min_steps("healthy", {}, 100, 250), 250);
  EXPECT_EQ(early_stop_min_steps("class_imbalance", {}, 100, 250), 250)
      << "the rare classes are learned last: a short window cannot judge it";
  EXPECT_EQ(early_stop_min_steps("lr_too_low", {chance}, 100, 250),
            std::numeric_limits<int64_t>::max())
      << "may still take off: only the budget's end tells";
  EXPECT_EQ(early_stop_min_steps("lr_too_high", {chance, nan}, 100, 250), 100)
      << "near miss: another hard symptom settles it";
}

TEST(EarlyStop, ARateTheScheduleWillStillRaiseKeepsTheRunGoingUnlessAHardSymptomDecides) {
  // Held-out zoo 5's s5-step-x3-every-40-steps: healthy-looking at step 200, divergent at 275.
  EXPECT_EQ(early_stop_min_steps("healthy", {}, 100, 250, 0, true),
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(early_stop_min_steps("bad_lr_schedule", {}, 100, 250, 0, true),
            std::numeric_limits<int64_t>::max());
  Symptom climb;
  climb.id = "diverging_loss";
  EXPECT_EQ(early_stop_min_steps("bad_lr_schedule", {climb}, 100, 250, 0, true), 100)
      << "near miss: a divergence already decides";
  climb.receding = true;
  EXPECT_EQ(early_stop_min_steps("bad_lr_schedule", {climb}, 100, 250, 0, true),
            std::numeric_limits<int64_t>::max())
      << "a receding climb decides nothing by itself";
  EXPECT_EQ(early_stop_min_steps("healthy", {}, 100, 250, 0, false), 250);
}

TEST(EarlyStop, ValidationAtChanceKeepsTheRunGoingUnlessAHardSymptomDecides) {
  // Held-out zoo 13's d25-adamw-lr-1: settled at step 100 with validation accuracy 4.0% for 25
  // classes, before the validation half of plateau_at_chance could judge (from step 150).
  constexpr auto kNever = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(early_stop_min_steps("lr_too_high", {}, 100, 250, 0, false, true), kNever);
  EXPECT_EQ(early_stop_min_steps("healthy", {}, 100, 250, 0, false, true), kNever);
  Symptom nan;
  nan.id = "nan_loss";
  EXPECT_EQ(early_stop_min_steps("lr_too_high", {nan}, 100, 250, 0, false, true), 100)
      << "near miss: a NaN already decides";
  EXPECT_EQ(early_stop_min_steps("lr_too_high", {}, 100, 250, 0, false, false), 100);
}

TEST(EarlyStop, TheLatestValidationAccuracyAgainstTheChanceBarOfItsK) {
  RunRecord r;
  r.num_classes = 25;  // chance 4%, bar 4% + 10% of the way to perfect = 13.6%
  EXPECT_FALSE(validation_at_chance_now(r)) << "no validation yet";
  EpochSample e;
  e.step = 75;
  e.val_accuracy = 0.052;
  r.epochs.push_back(e);
  EXPECT_TRUE(validation_at_chance_now(r));
  r.epochs.back().val_accuracy = 0.14;
  EXPECT_FALSE(validation_at_chance_now(r)) << "near miss: just above the bar";
  r.epochs.back().val_accuracy = std::nan("");
  EXPECT_FALSE(validation_at_chance_now(r));
  r.epochs.back().val_accuracy = 0.3;
  r.num_classes = 2;  // bar 55%
  EXPECT_TRUE(validation_at_chance_now(r)) << "the bar follows K";
  r.num_classes = 0;
  EXPECT_FALSE(validation_at_chance_now(r)) << "without K there is no chance level";
}

TEST(ChanceBar, AnAccuracyIsAtChanceBelowTheBarOfItsK) {
  // K = 10: bar 19%; K = 4: 32.5%.
  EXPECT_TRUE(series::accuracy_at_chance(0.189, 10));
  EXPECT_FALSE(series::accuracy_at_chance(0.191, 10)) << "near miss: just above the bar";
  EXPECT_TRUE(series::accuracy_at_chance(0.30, 4));
  EXPECT_FALSE(series::accuracy_at_chance(0.33, 4));
  EXPECT_FALSE(series::accuracy_at_chance(std::nan(""), 10)) << "no accuracy, no verdict";
  EXPECT_FALSE(series::accuracy_at_chance(0.0, 1)) << "one class has no chance level";
}

TEST(EarlyStop, ARecedingClimbDecidesNothingByItself) {
  // Held-out zoo 12's n21 controls at seed 4 stopped at step 100 on a warm-up climb whose loss was
  // already back below its start; the run went on to recover.
  RunRecord r;
  r.train_size = 4800;
  r.batch_size = 32;
  Symptom climb;
  climb.id = "diverging_loss";
  EXPECT_EQ(early_stop_min_steps("lr_too_high", {climb}, 100, 250, label_evidence_steps(r)), 100);
  climb.receding = true;
  EXPECT_EQ(early_stop_min_steps("lr_too_high", {climb}, 100, 250, label_evidence_steps(r)), 188);
  Symptom chance;
  chance.id = "plateau_at_chance";
  EXPECT_EQ(early_stop_min_steps("lr_too_low", {chance, climb}, 100, 250),
            std::numeric_limits<int64_t>::max())
      << "at chance with only a receding climb: the budget's end tells";
}

TEST(EarlyStop, NoAnswerBeforeAQuarterOfTheTrainingSetWasSeenTwice) {
  // 4800 samples in batches of 32: 150 steps an epoch, a quarter seen twice at step 188.
  RunRecord r;
  r.train_size = 4800;
  r.batch_size = 32;
  EXPECT_EQ(label_evidence_steps(r), 188);
  EXPECT_EQ(early_stop_min_steps("lr_too_high", {}, 100, 250, label_evidence_steps(r)), 188);
  EXPECT_EQ(early_stop_min_steps("healthy", {}, 100, 250, label_evidence_steps(r)), 250)
      << "the longer floor still holds";
  Symptom nan;
  nan.id = "nan_loss";
  EXPECT_EQ(early_stop_min_steps("lr_too_high", {nan}, 100, 250, label_evidence_steps(r)), 100)
      << "NaN decides by itself";
  // Data-parallel: the global batch sets the pace. Unknown sizes: no floor.
  r.distributed = DistributedRecord{};
  r.distributed->global_batch_size = 64;
  EXPECT_EQ(label_evidence_steps(r), 94);
  r.distributed.reset();
  r.train_size = 0;
  EXPECT_EQ(label_evidence_steps(r), 0);
}

}  // namespace
}  // namespace lossdoctor::diagnose
