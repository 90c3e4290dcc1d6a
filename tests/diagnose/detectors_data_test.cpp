// Data and epoch detectors: batch_label_runs, split_stats_mismatch, overfitting.
#include <gtest/gtest.h>

#include <random>

#include "diagnose/record_builder.hpp"
#include "lossdoctor/diagnose/detectors.hpp"

namespace lossdoctor::diagnose {
namespace {

bool mentions(const Symptom& s, const std::string& text) {
  for (const auto& e : s.evidence) {
    if (e.find(text) != std::string::npos) return true;
  }
  return false;
}

// batch_label_runs -------------------------------------------------------------------------------

TEST(BatchLabelRuns, SortedByLabel) {
  RunRecord r = test::healthy_falling();
  for (auto& s : r.steps) {
    std::fill(s.label_histogram.begin(), s.label_histogram.end(), 0);
    s.label_histogram[static_cast<size_t>(s.step / 40 % 10)] = 64;
  }
  const auto found = detect_batch_label_runs(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].step, 0);
  EXPECT_GT(found[0].value, 4.0);
  EXPECT_TRUE(mentions(found[0], "40 consecutive batches"));
}

TEST(BatchLabelRuns, MostlyOneClassPerBatch) {
  RunRecord r = test::healthy_falling();
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> other(0, 9);
  for (auto& s : r.steps) {
    std::fill(s.label_histogram.begin(), s.label_histogram.end(), 0);
    const auto major = static_cast<size_t>(s.step / 10 % 10);
    s.label_histogram[major] = 40;
    for (int i = 0; i < 24; ++i) ++s.label_histogram[static_cast<size_t>(other(rng))];
  }
  EXPECT_EQ(detect_batch_label_runs(r).size(), 1u);
}

TEST(BatchLabelRuns, NearMissImbalancedButShuffled) {
  RunRecord r = test::healthy_falling();
  std::mt19937_64 rng(7);
  std::discrete_distribution<size_t> pick({50, 5, 5, 5, 5, 5, 5, 5, 5, 10});
  for (auto& s : r.steps) {
    std::fill(s.label_histogram.begin(), s.label_histogram.end(), 0);
    for (int i = 0; i < 64; ++i) ++s.label_histogram[pick(rng)];
  }
  EXPECT_TRUE(detect_batch_label_runs(r).empty());
}

TEST(BatchLabelRuns, NearMissBatchOfOne) {
  test::RecordBuilder b;
  b.batch_size = 1;
  EXPECT_TRUE(detect_batch_label_runs(b.build()).empty());
}

// split_stats_mismatch ---------------------------------------------------------------------------

TEST(SplitStatsMismatch, RawValidationAgainstNormalisedTraining) {
  RunRecord r = test::healthy_falling();
  r.val_stats->channel_mean = {72.9};
  r.val_stats->channel_std = {90.0};
  r.val_stats->max = 255;
  const auto found = detect_split_stats_mismatch(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].step, -1);
  EXPECT_GT(found[0].value, 100.0);
  EXPECT_TRUE(mentions(found[0], "train mean 0.01"));
  EXPECT_TRUE(mentions(found[0], "validation mean 72.9"));
}

TEST(SplitStatsMismatch, StdRatioOnOneChannel) {
  RunRecord r = test::healthy_falling();
  r.train_stats->channel_mean = {0.0, 0.0, 0.0};
  r.train_stats->channel_std = {1.0, 1.0, 1.0};
  r.val_stats->channel_mean = {0.1, 0.0, -0.1};
  r.val_stats->channel_std = {1.0, 3.0, 1.1};
  const auto found = detect_split_stats_mismatch(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NEAR(found[0].value, 1.5, 1e-9);
  EXPECT_TRUE(mentions(found[0], "worst: channel 1"));
}

TEST(SplitStatsMismatch, NearMissSmallShift) {
  RunRecord r = test::healthy_falling();
  r.val_stats->channel_mean = {0.3};
  r.val_stats->channel_std = {1.6};
  EXPECT_TRUE(detect_split_stats_mismatch(r).empty());
}

TEST(SplitStatsMismatch, NearMissMissingStats) {
  RunRecord r = test::healthy_falling();
  r.val_stats.reset();
  EXPECT_TRUE(detect_split_stats_mismatch(r).empty());
}

// overfitting ------------------------------------------------------------------------------------

TEST(Overfitting, ValidationRisesWhileTrainingFalls) {
  const RunRecord r = test::healthy_overfitting();
  const auto found = detect_overfitting(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].step, r.epochs[5].step);
  EXPECT_GT(found[0].value, 0.9);
  EXPECT_TRUE(mentions(found[0], "0.78 → 1.15"));
}

TEST(Overfitting, NearMissOneNoisyEpoch) {
  RunRecord r = test::healthy_overfitting();
  const double val[] = {1.6, 1.1, 0.9, 0.8, 0.78, 0.82, 0.77, 0.76, 0.75, 0.76};
  for (size_t i = 0; i < 10; ++i) r.epochs[i].val_loss = val[i];
  EXPECT_TRUE(detect_overfitting(r).empty());
}

TEST(Overfitting, NearMissBothRising) {
  RunRecord r = test::healthy_overfitting();
  for (size_t i = 5; i < 10; ++i) r.epochs[i].train_loss = 1.0 + 0.2 * static_cast<double>(i);
  EXPECT_TRUE(detect_overfitting(r).empty());
}

}  // namespace
}  // namespace lossdoctor::diagnose
