// Gradient and layer detectors: exploding_gradient, vanishing_gradient, dead_units,
// saturated_units, unchanged_weights, update_ratio_out_of_range, noisy_gradient.
#include <gtest/gtest.h>

#include <cmath>

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

// exploding_gradient -----------------------------------------------------------------------------

TEST(ExplodingGradient, GrowsByOrdersOfMagnitude) {
  RunRecord r = test::healthy_falling();
  for (auto& s : r.steps) {
    if (s.step >= 200) s.grad_norm *= std::pow(1.08, static_cast<double>(s.step - 200));
  }
  for (auto& p : r.probes) {
    if (p.step >= 200) p.layers[4].grad_norm = 1e3;
  }
  const auto found = detect_exploding_gradient(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_GT(found[0].step, 250);
  EXPECT_LT(found[0].step, 280);
  EXPECT_GT(found[0].value, 100.0);
  EXPECT_EQ(found[0].layer, "layers[4].conv2d");
}

TEST(ExplodingGradient, NonFiniteGradient) {
  RunRecord r = test::healthy_falling();
  r.steps[300].grad_norm = INFINITY;
  r.first_nonfinite = NonFiniteOrigin{300, "layers[7].dense", true};
  const auto found = detect_exploding_gradient(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].step, 300);
  EXPECT_EQ(found[0].layer, "layers[7].dense");
  EXPECT_EQ(found[0].severity, 1.0);
}

TEST(ExplodingGradient, NearMissTwentyfoldGrowth) {
  RunRecord r = test::healthy_falling();
  for (auto& s : r.steps) s.grad_norm *= 1.0 + 19.0 * static_cast<double>(s.step) / 400.0;
  EXPECT_TRUE(detect_exploding_gradient(r).empty());
}

TEST(ExplodingGradient, NearMissOneHugeGradient) {
  RunRecord r = test::healthy_falling();
  r.steps[200].grad_norm = 1e6;  // one batch: the rolling median ignores it
  EXPECT_TRUE(detect_exploding_gradient(r).empty());
}

// vanishing_gradient -----------------------------------------------------------------------------

TEST(VanishingGradient, EarlyLayersStarved) {
  RunRecord r = test::healthy_falling();
  for (auto& p : r.probes) {
    p.layers[0].grad_norm = 1e-6;
    p.layers[4].grad_norm = 1e-5;
  }
  const auto found = detect_vanishing_gradient(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].layer, "layers[0].conv2d");
  EXPECT_EQ(found[0].step, 0);
  EXPECT_LT(found[0].value, 1e-4);
  EXPECT_TRUE(mentions(found[0], "layers[4].conv2d"));
}

TEST(VanishingGradient, NormalisedByWeightNorm) {
  // Raw gradients 1000× apart but weights too: relative gradients are equal — not vanishing.
  RunRecord r = test::healthy_falling();
  for (auto& p : r.probes) {
    p.layers[0].grad_norm = 4e-4;
    p.layers[0].weight_norm = 8e-3;
    p.layers[7].grad_norm = 0.4;
    p.layers[7].weight_norm = 8.0;
  }
  EXPECT_TRUE(detect_vanishing_gradient(r).empty());
}

TEST(VanishingGradient, NearMissSmallButNotVanishing) {
  RunRecord r = test::healthy_falling();
  for (auto& p : r.probes) p.layers[0].grad_norm = 2e-3;  // ratio ~5e-3 to the last layer
  EXPECT_TRUE(detect_vanishing_gradient(r).empty());
}

// dead_units -------------------------------------------------------------------------------------

TEST(DeadUnits, PersistentlyDeadReluLayer) {
  RunRecord r = test::healthy_falling();
  for (auto& p : r.probes) {
    if (p.step >= 100) p.layers[5].dead_fraction = 0.8;
  }
  const auto found = detect_dead_units(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].layer, "layers[5].relu");
  EXPECT_EQ(found[0].step, 100);
  EXPECT_NEAR(found[0].value, 0.8, 1e-9);
  EXPECT_NEAR(found[0].severity, 0.6, 1e-9);
}

TEST(DeadUnits, NearMissTransient) {
  RunRecord r = test::healthy_falling();
  r.probes[10].layers[5].dead_fraction = 0.9;
  r.probes[11].layers[5].dead_fraction = 0.9;
  EXPECT_TRUE(detect_dead_units(r).empty());
}

TEST(DeadUnits, NearMissBelowHalf) {
  RunRecord r = test::healthy_falling();
  for (auto& p : r.probes) p.layers[2].dead_fraction = 0.45;
  EXPECT_TRUE(detect_dead_units(r).empty());
}

// saturated_units --------------------------------------------------------------------------------

RunRecord with_activation(const std::string& kind, double saturated) {
  RunRecord r = test::healthy_falling();
  r.layers[2].kind = kind;
  r.layers[2].name = "layers[2]." + kind;
  for (auto& p : r.probes) {
    p.layers[2].dead_fraction = 0;
    p.layers[2].saturated_fraction = saturated;
  }
  return r;
}

TEST(SaturatedUnits, SaturatedTanh) {
  const auto found = detect_saturated_units(with_activation("tanh", 0.7));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].layer, "layers[2].tanh");
  EXPECT_NEAR(found[0].value, 0.7, 1e-9);
}

TEST(SaturatedUnits, SaturatedSigmoid) {
  EXPECT_EQ(detect_saturated_units(with_activation("sigmoid", 0.95)).size(), 1u);
}

TEST(SaturatedUnits, NearMissSoftmaxIsIgnored) {
  EXPECT_TRUE(detect_saturated_units(with_activation("softmax", 0.99)).empty());
}

TEST(SaturatedUnits, NearMissModerateSaturation) {
  EXPECT_TRUE(detect_saturated_units(with_activation("tanh", 0.4)).empty());
}

// unchanged_weights ------------------------------------------------------------------------------

TEST(UnchangedWeights, NoUpdateDespiteGradients) {
  RunRecord r = test::healthy_falling();
  for (auto& s : r.steps) s.update_norm = 0;
  const auto found = detect_unchanged_weights(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].step, 0);
  EXPECT_EQ(found[0].value, 1.0);
}

TEST(UnchangedWeights, TinyRelativeUpdates) {
  RunRecord r = test::healthy_falling();
  for (auto& s : r.steps) s.update_norm = 1e-12 * s.weight_norm;
  EXPECT_EQ(detect_unchanged_weights(r).size(), 1u);
}

TEST(UnchangedWeights, NearMissWarmupFromZeroLr) {
  RunRecord r = test::healthy_falling();
  for (auto& s : r.steps) {
    if (s.step < 50) s.update_norm = 0;
  }
  EXPECT_TRUE(detect_unchanged_weights(r).empty());
}

TEST(UnchangedWeights, NearMissNothingRecorded) {
  RunRecord r = test::healthy_falling();
  for (auto& s : r.steps) s.update_norm = s.weight_norm = 0;
  EXPECT_TRUE(detect_unchanged_weights(r).empty());
}

// update_ratio_out_of_range ----------------------------------------------------------------------

TEST(UpdateRatio, TooLarge) {
  RunRecord r = test::healthy_falling();
  for (auto& p : r.probes) p.layers[4].update_ratio = 0.5;
  const auto found = detect_update_ratio_out_of_range(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].layer, "layers[4].conv2d");
  EXPECT_NEAR(found[0].value, 0.5, 1e-9);
  EXPECT_TRUE(mentions(found[0], "too large"));
}

TEST(UpdateRatio, TooSmallNamesTheWorstLayer) {
  RunRecord r = test::healthy_falling();
  for (auto& p : r.probes) {
    p.layers[0].update_ratio = 5e-6;
    p.layers[7].update_ratio = 1e-8;
  }
  const auto found = detect_update_ratio_out_of_range(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].layer, "layers[7].dense");
  EXPECT_TRUE(mentions(found[0], "too small"));
  EXPECT_TRUE(mentions(found[0], "layers[0].conv2d"));
}

TEST(UpdateRatio, NearMissInsideRange) {
  RunRecord r = test::healthy_falling();
  for (auto& p : r.probes) {
    p.layers[0].update_ratio = 5e-2;
    p.layers[7].update_ratio = 2e-5;
  }
  EXPECT_TRUE(detect_update_ratio_out_of_range(r).empty());
}

// noisy_gradient ---------------------------------------------------------------------------------

TEST(NoisyGradient, NoiseScaleFarAboveBatch) {
  RunRecord r = test::healthy_falling();
  for (auto& n : r.noise) n.mean_sq_grad_norm = 201.0 * n.sq_mean_grad_norm;
  const auto found = detect_noisy_gradient(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NEAR(found[0].value, 200.0, 1e-9);
  EXPECT_TRUE(mentions(found[0], "batch size 64"));
}

TEST(NoisyGradient, NearMissModerateNoise) {
  RunRecord r = test::healthy_falling();
  for (auto& n : r.noise) n.mean_sq_grad_norm = 31.0 * n.sq_mean_grad_norm;
  EXPECT_TRUE(detect_noisy_gradient(r).empty());
}

TEST(NoisyGradient, NearMissUnknownBatchSize) {
  RunRecord r = test::healthy_falling();
  for (auto& n : r.noise) n.mean_sq_grad_norm = 201.0 * n.sq_mean_grad_norm;
  r.batch_size = 0;
  EXPECT_TRUE(detect_noisy_gradient(r).empty());
}

}  // namespace
}  // namespace lossdoctor::diagnose
