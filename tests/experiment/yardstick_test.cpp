// The paired statistics of the confirmation experiments on synthetic series (no training).

#include "lossdoctor/experiment/yardstick.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace lossdoctor::experiment {
namespace {

std::vector<double> decay(double from, double rate, int n, double wiggle = 0.05) {
  std::vector<double> s;
  for (int i = 0; i < n; ++i)
    s.push_back(from * std::exp(-rate * i) * (1 + wiggle * std::sin(1.7 * i)));
  return s;
}

TEST(PairedStats, MeanAndTOfKnownSample) {
  const auto [mean, t] = mean_and_t({1, 2, 3, 4, 5});
  EXPECT_DOUBLE_EQ(mean, 3);
  EXPECT_NEAR(t, 3 / (std::sqrt(2.5) / std::sqrt(5.0)), 1e-12);
  EXPECT_EQ(mean_and_t({}).second, 0);
  EXPECT_EQ(mean_and_t({2}).second, 0) << "one pair has no spread";
  EXPECT_GT(mean_and_t({0.5, 0.5, 0.5}).second, 1e6) << "a constant gain is decisive";
}

TEST(PairedStats, AccuracyAtTheEndIsTwoProportionsOverTheImages) {
  // Last common point at step 100: 5.5% vs 24.2% of 512 images.
  const std::vector<YardstickPoint> base = {
      {0, 3.2, 0.04, {}, 512}, {50, 3.2, 0.05, {}, 512}, {100, 3.4, 0.055, {}, 512}};
  const std::vector<YardstickPoint> arm = {{0, 3.2, 0.04, {}, 512},
                                           {50, 3.0, 0.06, {}, 512},
                                           {100, 2.5, 0.242, {}, 512},
                                           {110, 2.4, 0.3, {}, 512}};
  const PairedComparison c = compare_accuracy_at_end(base, arm);
  EXPECT_EQ(c.measure, "val_accuracy_at_end");
  EXPECT_EQ(c.pairs, 512);
  EXPECT_NEAR(c.effect, 0.187, 1e-12);
  const auto shrunk = [](double p) { return (p * 512 + 0.5) / 513; };
  const double pb = shrunk(0.055), pa = shrunk(0.242);
  EXPECT_NEAR(c.t, 0.187 / std::sqrt((pb * (1 - pb) + pa * (1 - pa)) / 512), 1e-9);
  EXPECT_DOUBLE_EQ(c.base_start, 0.05) << "the first common point after step 0";
  EXPECT_DOUBLE_EQ(c.arm_end, 0.242) << "step 110 has no baseline point";
  // 0% against 0%: no difference and a finite t (no zero variance).
  const std::vector<YardstickPoint> zero = {{10, 3, 0.0, {}, 100}};
  const PairedComparison z = compare_accuracy_at_end(zero, zero);
  EXPECT_EQ(z.t, 0);
  EXPECT_EQ(z.pairs, 100);
  // Points without an image count (interpolated) cannot be judged this way.
  const std::vector<YardstickPoint> unknown = {{10, 3, 0.5}};
  EXPECT_EQ(compare_accuracy_at_end(unknown, unknown).pairs, 0);
}

// The same images through the same weights, prepared two ways (zoo 14's hard-n28-val-mean-0.55:
// +4.5 points of 512, two-proportion z 1.5): paired by image, only the images that changed count.
TEST(PairedStats, AccuracyAtTheEndPairsTheImagesWhenEachImagesOutcomeIsKnown) {
  const int n = 512;
  YardstickPoint b(100, 1.16, 0, {}, n), a(100, 1.0, 0, {}, n);
  b.correct.assign(n, false);
  a.correct.assign(n, false);
  for (int i = 0; i < 300; ++i) b.correct[i] = a.correct[i] = true;  // right in both
  for (int i = 300; i < 340; ++i) a.correct[i] = true;               // the arm alone: 40
  for (int i = 340; i < 357; ++i) b.correct[i] = true;               // the baseline alone: 17
  b.accuracy = 317.0 / n;
  a.accuracy = 340.0 / n;
  const PairedComparison c = compare_accuracy_at_end({b}, {a});
  EXPECT_EQ(c.pairs, n);
  EXPECT_NEAR(c.effect, 23.0 / n, 1e-12);
  EXPECT_NEAR(c.t, 23.0 / std::sqrt(57.0), 1e-12);  // 3.05; as two proportions: 1.5
  EXPECT_EQ(c.images_differing, 57);
  YardstickPoint unpaired_b = b, unpaired_a = a;
  unpaired_b.correct.clear();
  unpaired_a.correct.clear();
  EXPECT_LT(compare_accuracy_at_end({unpaired_b}, {unpaired_a}).t, 1.6);
  EXPECT_EQ(compare_accuracy_at_end({unpaired_b}, {unpaired_a}).images_differing, -1);
  // The same predictions: no image differs, t = 0; the arm worse: t < 0.
  EXPECT_EQ(compare_accuracy_at_end({b}, {b}).t, 0);
  EXPECT_NEAR(compare_accuracy_at_end({a}, {b}).t, -23.0 / std::sqrt(57.0), 1e-12);
  // Outcomes of another number of images than counted: the two-proportion test.
  YardstickPoint short_a = a;
  short_a.correct.resize(10);
  EXPECT_NEAR(compare_accuracy_at_end({b}, {short_a}).t,
              compare_accuracy_at_end({unpaired_b}, {unpaired_a}).t, 1e-12);
}

TEST(PairedStats, LowerLossArmGivesLargePositiveTAndEffect) {
  const auto base = decay(2.3, 0.001, 100);  // stalls
  const auto arm = decay(2.3, 0.02, 100);    // learns
  const PairedComparison c = compare_train_loss(base, arm, 10);
  EXPECT_EQ(c.pairs, 10);
  EXPECT_GT(c.t, 3);
  EXPECT_GT(c.effect, 0.3);
  EXPECT_LT(c.arm_end, c.base_end);
  // Swapped: the same numbers with the sign reversed.
  const PairedComparison r = compare_train_loss(arm, base, 10);
  EXPECT_NEAR(r.t, -c.t, 1e-9);
  EXPECT_LT(r.effect, 0);
}

TEST(PairedStats, IdenticalRunsAreNotSignificant) {
  const auto s = decay(2.3, 0.01, 100);
  const PairedComparison c = compare_train_loss(s, s, 10);
  EXPECT_EQ(c.t, 0);
  EXPECT_EQ(c.effect, 0);
}

TEST(PairedStats, NoiseWithoutShiftStaysBelowThreshold) {
  auto base = decay(2.3, 0.01, 100, 0.0), arm = base;
  for (size_t i = 0; i < arm.size(); ++i) arm[i] *= 1 + 0.03 * std::sin(2.9 * i + 1);
  const PairedComparison c = compare_train_loss(base, arm, 10);
  EXPECT_LT(std::abs(c.effect), 0.05);
}

TEST(PairedStats, NonFiniteBlocksAreLeftOutAndFound) {
  auto base = decay(2.3, 0.01, 50);
  base[25] = NAN;
  const auto arm = decay(2.3, 0.01, 50);
  EXPECT_EQ(compare_train_loss(base, arm, 10).pairs, 4);
  EXPECT_EQ(nonfinite_step(base), 25);
  EXPECT_EQ(nonfinite_step(arm), -1);
}

TEST(PairedStats, OnlyTheCommonPrefixIsPaired) {
  EXPECT_EQ(compare_train_loss(decay(2, 0.01, 100), decay(2, 0.01, 35), 10).pairs, 3);
  EXPECT_THROW(compare_train_loss({1}, {1}, 0), std::invalid_argument);
}

TEST(PairedStats, AccuracyPairedByStepSkipsInitialPoint) {
  std::vector<YardstickPoint> base, arm;
  for (int k = 0; k <= 10; ++k) {
    base.push_back({10 * k, 2.0, 0.10 + 0.001 * (k % 3)});
    arm.push_back({10 * k, 2.0 - 0.1 * k, k == 0 ? 0.10 : 0.10 + 0.06 * k});
  }
  arm.push_back({110, 0.5, 0.9});  // no baseline point at 110: not paired
  const PairedComparison a = compare_accuracy(base, arm);
  EXPECT_EQ(a.pairs, 10);
  EXPECT_GT(a.t, 3);
  EXPECT_NEAR(a.effect, a.mean_diff, 1e-12);
  EXPECT_GT(a.effect, 0.2);
  const PairedComparison l = compare_val_loss(base, arm);
  EXPECT_EQ(l.pairs, 10);
  EXPECT_GT(l.effect, 0.1);
}

TEST(PairedStats, RareClassAccuracyAveragesTheTargetedClassesOnly) {
  // Classes 0 and 1 common, 2 rare: the arm lifts class 2 from 10% to 50% and costs class 0
  // two points; overall that is barely visible, on the rare class it is 40 points.
  std::vector<YardstickPoint> base, arm;
  for (int k = 0; k <= 10; ++k) {
    const double wobble = 0.01 * std::sin(1.3 * k);
    base.push_back({10 * k, 1.0, 0.6, {0.8 + wobble, 0.8, 0.1}});
    arm.push_back({10 * k, 1.0, 0.61, {0.78 + wobble, 0.8, 0.5 + wobble}});
  }
  const PairedComparison rare = compare_class_accuracy(base, arm, {2});
  EXPECT_EQ(rare.measure, "rare_class_accuracy");
  EXPECT_EQ(rare.pairs, 10);
  EXPECT_NEAR(rare.effect, 0.4, 0.01);
  EXPECT_GT(rare.t, 3);
  EXPECT_NEAR(rare.base_end, 0.1, 1e-12);
  // Classes out of range or unmeasured (NaN) are left out; points without class accuracies
  // (interpolated ones) are not paired.
  EXPECT_NEAR(compare_class_accuracy(base, arm, {2, 7}).effect, 0.4, 0.01);
  for (auto& p : arm) p.class_accuracy[1] = NAN;
  EXPECT_NEAR(compare_class_accuracy(base, arm, {1, 2}).effect, 0.4, 0.01)
      << "class 1 has no images in the arm's subset: only class 2 pairs";
  for (auto& p : arm) p.class_accuracy.clear();
  EXPECT_EQ(compare_class_accuracy(base, arm, {2}).pairs, 0);
}

}  // namespace
}  // namespace lossdoctor::experiment
