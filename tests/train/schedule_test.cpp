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
