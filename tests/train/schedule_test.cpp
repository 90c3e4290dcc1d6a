#include "lossdoctor/train/schedule.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace lossdoctor::train {
namespace {

using Kind = spec::ScheduleSpec::Kind;

spec::ScheduleSpec make(Kind kind) {
  spec::ScheduleSpec s;
  s.kind = kind;
  return s;
}

TEST(Schedule, ConstantIgnoresTime) {
  LrSchedule s(make(Kind::Constant), 0.1, 100);
  EXPECT_DOUBLE_EQ(s.lr(0, 0), 0.1);
  EXPECT_DOUBLE_EQ(s.lr(99, 7), 0.1);
}

TEST(Schedule, StepPerEpochAndPerStep) {
  auto spec = make(Kind::Step);
  spec.step_size = 2;
  spec.gamma = 0.5;
  LrSchedule per_epoch(spec, 1.0, 100);
  EXPECT_DOUBLE_EQ(per_epoch.lr(50, 1), 1.0);
  EXPECT_DOUBLE_EQ(per_epoch.lr(50, 2), 0.5);
  EXPECT_DOUBLE_EQ(per_epoch.lr(50, 5), 0.25);
  spec.per_step = true;
  LrSchedule per_step(spec, 1.0, 100);
  EXPECT_DOUBLE_EQ(per_step.lr(3, 0), 0.5);
  EXPECT_DOUBLE_EQ(per_step.lr(20, 0), std::pow(0.5, 10));
}

TEST(Schedule, GammaAboveOneGrows) {
  auto spec = make(Kind::Step);
  spec.gamma = 10;
  LrSchedule s(spec, 0.001, 100);
  EXPECT_DOUBLE_EQ(s.lr(0, 3), 1.0);
}

TEST(Schedule, ExponentialAndCosine) {
  auto e = make(Kind::Exponential);
  e.gamma = 0.9;
  EXPECT_NEAR(LrSchedule(e, 1.0, 10).lr(0, 2), 0.81, 1e-12);
  auto c = make(Kind::Cosine);
  c.min_lr = 0.1;
  LrSchedule cos(c, 1.1, 100);
  EXPECT_NEAR(cos.lr(0, 0), 1.1, 1e-12);
  EXPECT_NEAR(cos.lr(50, 0), 0.6, 1e-12);
  EXPECT_NEAR(cos.lr(100, 0), 0.1, 1e-12);
}

TEST(Schedule, WarmupRampsLinearly) {
  auto spec = make(Kind::Constant);
  spec.warmup_steps = 4;
  LrSchedule s(spec, 1.0, 100);
  EXPECT_DOUBLE_EQ(s.lr(0, 0), 0.25);
  EXPECT_DOUBLE_EQ(s.lr(3, 0), 1.0);
  EXPECT_DOUBLE_EQ(s.lr(10, 0), 1.0);
}

TEST(RateRisesAhead, AStepScheduleThatTriplesTheRateIsStillRising) {
  auto spec = make(Kind::Step);
  spec.step_size = 40;
  spec.gamma = 3;
  spec.per_step = true;
  const LrSchedule s(spec, 0.02, 300);
  // Step 200 has met 0.02·3^4; steps 200–299 reach 0.02·3^7.
  EXPECT_TRUE(rate_rises_ahead(s, 200, 300, 30, 2.0));
  // Steps 200–239 triple the rate once more: above twice, not above four times the rate so far.
  EXPECT_TRUE(rate_rises_ahead(s, 200, 240, 30, 2.0));
  EXPECT_FALSE(rate_rises_ahead(s, 200, 240, 30, 4.0));
  // A budget that ends with the rate of its last steps so far holds nothing back.
  EXPECT_FALSE(rate_rises_ahead(s, 170, 200, 30, 1.0));
  // Per epoch: steps 0–299 are epochs 0–9 (30 steps each), all inside the first 40 epochs.
  spec.per_step = false;
  EXPECT_FALSE(rate_rises_ahead(LrSchedule(spec, 0.02, 300), 200, 300, 30, 2.0));
}

TEST(RateRisesAhead, FallingSchedulesAndTheTailOfAWarmupAreNot) {
  EXPECT_FALSE(rate_rises_ahead(LrSchedule(make(Kind::Constant), 0.1, 300), 100, 300, 10, 2.0));
  EXPECT_FALSE(rate_rises_ahead(LrSchedule(make(Kind::Cosine), 0.1, 300), 100, 300, 10, 2.0));
  auto decay = make(Kind::Exponential);
  decay.gamma = 0.9;
  decay.per_step = true;
  EXPECT_FALSE(rate_rises_ahead(LrSchedule(decay, 0.1, 300), 100, 300, 10, 2.0));
  auto warm = make(Kind::Constant);
  warm.warmup_steps = 1000;
  // Steps 0–199 reach 200/1000 of the rate, the budget's end 300/1000: 1.5×.
  EXPECT_FALSE(rate_rises_ahead(LrSchedule(warm, 0.1, 3000), 200, 300, 10, 2.0));
  // At step 100 the budget's end is 3× the rate so far.
  EXPECT_TRUE(rate_rises_ahead(LrSchedule(warm, 0.1, 3000), 100, 300, 10, 2.0));
}

TEST(Schedule, PlateauReducesAfterPatienceAndRestores) {
  auto spec = make(Kind::Plateau);
  spec.factor = 0.5;
  spec.patience = 1;
  LrSchedule s(spec, 1.0, 100);
  s.on_validation(1.0);
  s.on_validation(1.0);  // 1 bad epoch: within patience
  EXPECT_DOUBLE_EQ(s.lr(0, 0), 1.0);
  s.on_validation(1.0);  // 2 bad epochs > patience
  EXPECT_DOUBLE_EQ(s.lr(0, 0), 0.5);
  s.on_validation(0.5);  // improvement resets the count
  EXPECT_EQ(s.epochs_without_improvement(), 0);
  LrSchedule restored(spec, 1.0, 100);
  restored.restore(s.reductions(), s.best_val_loss(), s.epochs_without_improvement());
  EXPECT_DOUBLE_EQ(restored.lr(0, 0), 0.5);
}

}  // namespace
}  // namespace lossdoctor::train
