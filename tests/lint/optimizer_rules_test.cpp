// Rules on the optimiser, schedule, clipping and batch size.

#include <gtest/gtest.h>

#include "lint_test_util.hpp"

namespace lossdoctor::lint {
namespace {

using namespace testing;

std::string with_optimizer(const std::string& opt,
                           const std::string& extra = "batch_size: 64\nepochs: 2\n") {
  SpecText t;
  t.optimizer = opt;
  t.extra = extra;
  return t.yaml();
}

TEST(LrTooHigh, AdamLr1IsAnError) {
  Finding f = expect_fires_and_fix_silences("lr-too-high", with_optimizer("{type: adam, lr: 1.0}"),
                                            "lr_too_high", "error", {"optimizer.lr = 1", "adam"});
  EXPECT_EQ(f.fix.at("optimizer.lr"), "0.001");
}

TEST(LrTooHigh, AdamLr002IsAWarning) {
  expect_fires_and_fix_silences("lr-too-high", with_optimizer("{type: adam, lr: 0.02}"),
                                "lr_too_high", "warning", {"0.02"});
}

TEST(LrTooHigh, SgdThresholdsAndMomentumFix) {
  Finding f = expect_fires_and_fix_silences("lr-too-high",
                                            with_optimizer("{type: sgd, lr: 2.0, momentum: 0.9}"),
                                            "lr_too_high", "error", {"2", "sgd"});
  EXPECT_EQ(f.fix.at("optimizer.lr"), "0.1");
  expect_fires_and_fix_silences("lr-too-high", with_optimizer("{type: sgd, lr: 0.5}"),
                                "lr_too_high", "warning", {"0.5"});
  expect_fires_and_fix_silences("lr-too-high", with_optimizer("{type: adagrad, lr: 1.0}"),
                                "lr_too_high", "warning", {"adagrad"});
}

TEST(LrTooHigh, SgdMomentumEffectiveStepIsInfo) {
  Finding f = expect_fires_and_fix_silences(
      "lr-too-high", with_optimizer("{type: sgd, lr: 0.3, momentum: 0.9, nesterov: true}"),
      "lr_too_high", "info", {"0.3", "effective step"});
  EXPECT_EQ(f.fix.at("optimizer.lr"), "0.1");
  // Near misses: the usual recipe (step 1), twice it, no momentum, and momentum near 1 (that is
  // optimizer_misconfigured's finding).
  expect_silent("lr-too-high", with_optimizer("{type: sgd, lr: 0.2, momentum: 0.9}"));
  expect_silent("lr-too-high", with_optimizer("{type: sgd, lr: 0.3}"));
  expect_silent("lr-too-high", with_optimizer("{type: sgd, lr: 0.05, momentum: 0.99}"));
}

TEST(LrTooHigh, NearMisses) {
  expect_silent("lr-too-high", with_optimizer("{type: adam, lr: 0.009}"));
  expect_silent("lr-too-high", with_optimizer("{type: sgd, lr: 0.1, momentum: 0.9}"));
  expect_silent("lr-too-high", with_optimizer("{type: adadelta, lr: 1.0}"));
  // The top of adadelta's usual range: healthy held-out runs train at 10.
  expect_silent("lr-too-high", with_optimizer("{type: adadelta, lr: 10.0}"));
}

TEST(LrTooHigh, AdadeltaFarAboveItsUsualMultiplier) {
  Finding f =
      expect_fires_and_fix_silences("lr-too-high", with_optimizer("{type: adadelta, lr: 5000.0}"),
                                    "lr_too_high", "error", {"5000", "adadelta"});
  EXPECT_EQ(f.fix.at("optimizer.lr"), "1") << "the usual rate, not ÷ 10 (still 500× too high)";
  expect_fires_and_fix_silences("lr-too-high", with_optimizer("{type: adadelta, lr: 30.0}"),
                                "lr_too_high", "warning", {"30"});
  expect_silent("lr-too-high", with_optimizer("{type: adadelta, lr: 29.0}"));
}

TEST(LrTooLow, AdamAndSgdAndAdadelta) {
  Finding f = expect_fires_and_fix_silences("lr-too-low", with_optimizer("{type: adam, lr: 1e-7}"),
                                            "lr_too_low", "warning", {"1e-07"});
  EXPECT_EQ(f.fix.at("optimizer.lr"), "0.001");
  expect_fires_and_fix_silences("lr-too-low", with_optimizer("{type: sgd, lr: 1e-5}"), "lr_too_low",
                                "warning", {"1e-05"});
  Finding d =
      expect_fires_and_fix_silences("lr-too-low", with_optimizer("{type: adadelta, lr: 0.01}"),
                                    "lr_too_low", "warning", {"adadelta"});
  EXPECT_EQ(d.fix.at("optimizer.lr"), "1");
}

TEST(LrTooLow, NearMisses) {
  expect_silent("lr-too-low", with_optimizer("{type: adam, lr: 1e-5}"));
  expect_silent("lr-too-low", with_optimizer("{type: sgd, lr: 1e-4}"));
  expect_silent("lr-too-low", with_optimizer("{type: adadelta}"));
}

TEST(BatchSizeOne, ErrorWithBatchnormWarningWithout) {
  SpecText t;
  t.extra = "batch_size: 1\nepochs: 1\n";
  Finding f = expect_fires_and_fix_silences("batch-size-one", t.yaml(), "batch_too_small", "error",
                                            {"batch_size = 1", "batchnorm"});
  EXPECT_EQ(f.fix.at("batch_size"), "32");
  t.layers =
      "    - flatten: {}\n"
      "    - dense: {units: 64}\n"
      "    - relu: {}\n"
      "    - dense: {units: 10}\n";
  expect_fires_and_fix_silences("batch-size-one", t.yaml(), "batch_too_small", "warning",
                                {"batch_size = 1"});
}

TEST(BatchSizeOne, NearMiss) {
  SpecText t;
  t.extra = "batch_size: 2\n";
  expect_silent("batch-size-one", t.yaml());
}

TEST(SmallBatchBatchnorm, TwoIsAWarningThreeOrFourAnInfo) {
  SpecText t;  // the default layers have batch norm
  t.extra = "batch_size: 2\nepochs: 1\n";
  Finding f = expect_fires_and_fix_silences("small-batch-batchnorm", t.yaml(), "batch_too_small",
                                            "warning", {"batch_size = 2", "only 2 samples"});
  EXPECT_EQ(f.fix.at("batch_size"), "32");
  t.extra = "batch_size: 4\nepochs: 1\n";
  expect_fires_and_fix_silences("small-batch-batchnorm", t.yaml(), "batch_too_small", "info",
                                {"batch_size = 4"});
}

TEST(SmallBatchBatchnorm, NearMisses) {
  SpecText t;
  t.extra = "batch_size: 8\n";  // noisy, but batch norm's statistics are usable
  expect_silent("small-batch-batchnorm", t.yaml());
  t.extra = "batch_size: 1\n";  // batch-size-one's
  expect_silent("small-batch-batchnorm", t.yaml());
  t.extra = "batch_size: 2\n";  // no batch norm: only the gradient noise, judged by the run
  t.layers =
      "    - flatten: {}\n    - dense: {units: 64}\n    - relu: {}\n    - dense: {units: 10}\n";
  expect_silent("small-batch-batchnorm", t.yaml());
}

TEST(OptimizerHyperparameters, MomentumEpsBetas) {
  Finding m = expect_fires_and_fix_silences(
      "optimizer-hyperparameters", with_optimizer("{type: sgd, lr: 0.01, momentum: 0.995}"),
      "optimizer_misconfigured", "warning", {"optimizer.momentum = 0.995"});
  EXPECT_EQ(m.fix.at("optimizer.momentum"), "0.9");
  expect_fires_and_fix_silences("optimizer-hyperparameters",
                                with_optimizer("{type: adam, lr: 0.001, eps: 0.5}"),
                                "optimizer_misconfigured", "warning", {"optimizer.eps = 0.5"});
  expect_fires_and_fix_silences("optimizer-hyperparameters",
                                with_optimizer("{type: adam, lr: 0.001, betas: [0.9995, 0.999]}"),
                                "optimizer_misconfigured", "warning", {"0.9995"});
  Finding b = expect_fires_and_fix_silences(
      "optimizer-hyperparameters", with_optimizer("{type: adamw, lr: 0.001, betas: [0.9, 0.5]}"),
      "optimizer_misconfigured", "warning", {"0.5"});
  EXPECT_EQ(b.fix.at("optimizer.betas"), "[0.9, 0.999]");
}

TEST(OptimizerHyperparameters, NearMisses) {
  expect_silent("optimizer-hyperparameters",
                with_optimizer("{type: sgd, lr: 0.01, momentum: 0.98}"));
  expect_silent("optimizer-hyperparameters",
                with_optimizer("{type: adam, lr: 0.001, eps: 0.0005, betas: [0.95, 0.9]}"));
  expect_silent("optimizer-hyperparameters",
                with_optimizer("{type: adadelta, lr: 1.0, eps: 0.01}"));  // eps sets its unit
}

TEST(OptimizerHyperparameters, AnEpsFarAboveTheDefaultIsAnInfoWorthATest) {
  for (const char* opt :
       {"{type: adam, lr: 0.001, eps: 0.01}", "{type: rmsprop, lr: 0.001, eps: 0.001}",
        "{type: adagrad, lr: 0.01, eps: 0.05}"}) {
    Finding f = expect_fires_and_fix_silences("optimizer-hyperparameters", with_optimizer(opt),
                                              "optimizer_misconfigured", "info",
                                              {"optimizer.eps", "default 1e-08"});
    EXPECT_EQ(f.fix.at("optimizer.eps"), "1e-08");
    EXPECT_NEAR(f.confidence, 0.35, 1e-12);
  }
  // With a warning-level item the finding is a warning.
  expect_fires_and_fix_silences(
      "optimizer-hyperparameters",
      with_optimizer("{type: adam, lr: 0.001, eps: 0.01, betas: [0.999, 0.999]}"),
      "optimizer_misconfigured", "warning", {"optimizer.betas"});
}

TEST(HeavyWeightDecay, WarningAndError) {
  Finding w = expect_fires_and_fix_silences(
      "heavy-weight-decay", with_optimizer("{type: adam, lr: 0.001, weight_decay: 0.1}"),
      "excessive_regularization", "warning", {"optimizer.weight_decay = 0.1"});
  EXPECT_EQ(w.fix.at("optimizer.weight_decay"), "0.0001");
  expect_fires_and_fix_silences("heavy-weight-decay",
                                with_optimizer("{type: sgd, lr: 0.01, weight_decay: 0.5}"),
                                "excessive_regularization", "error", {"0.5"});
}

TEST(HeavyWeightDecay, HundredTimesTheUsualDecayIsAnInfoWorthATest) {
  Finding f = expect_fires_and_fix_silences(
      "heavy-weight-decay",
      with_optimizer("{type: sgd, lr: 0.05, momentum: 0.9, weight_decay: 0.05}"),
      "excessive_regularization", "info", {"optimizer.weight_decay = 0.05", "at or above 0.01"});
  EXPECT_EQ(f.fix.at("optimizer.weight_decay"), "0.0001");
  expect_fires_and_fix_silences("heavy-weight-decay",
                                with_optimizer("{type: adamw, lr: 0.001, weight_decay: 0.2}"),
                                "excessive_regularization", "info", {"at or above 0.2"});
}

TEST(HeavyWeightDecay, NearMiss) {
  expect_silent("heavy-weight-decay",
                with_optimizer("{type: adam, lr: 0.001, weight_decay: 0.005}"));
  expect_silent("heavy-weight-decay",
                with_optimizer("{type: adamw, lr: 0.001, weight_decay: 0.1}"));
}

TEST(ClipTooTight, FiresAndFixSilences) {
  SpecText t;
  t.extra = "clip_grad_norm: 0.0001\n";
  Finding f = expect_fires_and_fix_silences("clip-too-tight", t.yaml(), "grad_clip_too_tight",
                                            "error", {"clip_grad_norm = 0.0001"});
  EXPECT_EQ(f.fix.at("clip_grad_norm"), "1.0");
  t.extra = "clip_grad_norm: 0.02\n";  // tighter than most gradient norms: worth a test
  expect_fires_and_fix_silences("clip-too-tight", t.yaml(), "grad_clip_too_tight", "info",
                                {"clip_grad_norm = 0.02", "at or below 0.1"});
  t.extra = "clip_grad_norm: 0.2\n";
  expect_silent("clip-too-tight", t.yaml());
}

TEST(ScheduleGammaAboveOne, StepAndExponential) {
  SpecText t;
  t.extra = "schedule: {type: step, step_size: 1, gamma: 2.0}\nepochs: 5\n";
  Finding f =
      expect_fires_and_fix_silences("schedule-gamma-above-one", t.yaml(), "bad_lr_schedule",
                                    "error", {"schedule.gamma = 2", "grows 16x", "(4 growths)"});
  EXPECT_EQ(f.fix.at("schedule.gamma"), "0.1");
  t.extra = "schedule: {type: exponential, gamma: 1.01, per: step}\nepochs: 2\n";
  Finding e = expect_fires_and_fix_silences("schedule-gamma-above-one", t.yaml(), "bad_lr_schedule",
                                            "error", {"1.01"});
  // The fixed schedule must not decay to nothing either.
  EXPECT_TRUE(run("schedule-decays-to-nothing", parse(t.yaml(), overrides_of(e))).findings.empty());
  t.extra = "schedule: {type: step, step_size: 1, gamma: 1.0}\n";
  expect_silent("schedule-gamma-above-one", t.yaml());
}

TEST(ScheduleDecaysToNothing, StepPerStep) {
  // 12000 / 64 = 188 steps an epoch, 2 epochs = 376 steps: 0.1^(376/10) is nothing.
  SpecText t;
  t.extra =
      "schedule: {type: step, step_size: 10, gamma: 0.1, per: step}\nbatch_size: 64\nepochs: 2\n";
  Finding f =
      expect_fires_and_fix_silences("schedule-decays-to-nothing", t.yaml(), "bad_lr_schedule",
                                    "warning", {"376 steps", "37 decays"});
  EXPECT_EQ(f.fix.at("schedule.per"), "epoch");
}

TEST(ScheduleDecaysToNothing, ExponentialPerEpochGetsAGentlerGamma) {
  SpecText t;
  t.extra = "schedule: {type: exponential, gamma: 0.1}\nepochs: 10\n";
  Finding f = expect_fires_and_fix_silences("schedule-decays-to-nothing", t.yaml(),
                                            "bad_lr_schedule", "warning", {"9 decays"});
  EXPECT_EQ(f.fix.count("schedule.gamma"), 1u);
}

TEST(ScheduleDecaysToNothing, NearMisses) {
  SpecText t;
  t.extra = "schedule: {type: step, step_size: 1, gamma: 0.1}\nepochs: 2\n";  // 0.01 after 2 epochs
  expect_silent("schedule-decays-to-nothing", t.yaml());
  t.extra = "schedule: {type: exponential, gamma: 0.999, per: step}\nmax_steps: 2000\n";  // 0.135
  expect_silent("schedule-decays-to-nothing", t.yaml());
}

}  // namespace
}  // namespace lossdoctor::lint
