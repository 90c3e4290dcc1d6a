#include "lossdoctor/train/loss.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

namespace lossdoctor::train {
namespace {

spec::LossSpec make(spec::LossSpec::Kind kind, bool from_logits = true) {
  spec::LossSpec l;
  l.kind = kind;
  l.from_logits = from_logits;
  return l;
}

// Two samples, three classes; values chosen so every number below can be checked by hand.
const torch::Tensor kLogits = torch::tensor({{1.0, 2.0, 3.0}, {0.0, 0.0, 0.0}}, torch::kFloat64);
const torch::Tensor kLabels = torch::tensor({2, 0}, torch::kInt64);

TEST(Loss, CrossEntropyFromLogitsByHand) {
  const auto l = per_sample_loss(make(spec::LossSpec::Kind::CrossEntropy), kLogits, kLabels);
  const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  EXPECT_NEAR(l[0].item<double>(), lse - 3.0, 1e-12);
  EXPECT_NEAR(l[1].item<double>(), std::log(3.0), 1e-12);
  EXPECT_NEAR(mean_loss(make(spec::LossSpec::Kind::CrossEntropy), kLogits, kLabels).item<double>(),
              (lse - 3.0 + std::log(3.0)) / 2, 1e-12);
}

TEST(Loss, OneHotTargetsGiveTheSameValue) {
  auto onehot = make(spec::LossSpec::Kind::CrossEntropy);
  onehot.one_hot_targets = true;
  EXPECT_TRUE(
      torch::allclose(per_sample_loss(onehot, kLogits, kLabels),
                      per_sample_loss(make(spec::LossSpec::Kind::CrossEntropy), kLogits, kLabels)));
}

TEST(Loss, LabelSmoothingByHand) {
  auto smooth = make(spec::LossSpec::Kind::CrossEntropy);
  smooth.label_smoothing = 0.3;
  const auto l = per_sample_loss(smooth, kLogits, kLabels);
  const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  const double nll = lse - 3.0;
  const double uniform = ((lse - 1) + (lse - 2) + (lse - 3)) / 3;
  EXPECT_NEAR(l[0].item<double>(), 0.7 * nll + 0.3 * uniform, 1e-12);
}

TEST(Loss, CrossEntropyOnProbabilitiesTakesTheLog) {
  const torch::Tensor probs = torch::tensor({{0.2, 0.3, 0.5}}, torch::kFloat64);
  const auto l = per_sample_loss(make(spec::LossSpec::Kind::CrossEntropy, false), probs,
                                 torch::tensor({1}, torch::kInt64));
  EXPECT_NEAR(l[0].item<double>(), -std::log(0.3), 1e-12);
}

TEST(Loss, SoftmaxIntoFromLogitsLossIsBoundedAboveChance) {
  // The article's mistake in PyTorch form: softmax scores treated as logits. Even a perfect
  // prediction cannot push the loss below log(1 + (K-1)/e) ≈ 1.46 for K = 10.
  const torch::Tensor perfect = torch::zeros({1, 10}, torch::kFloat64).index_put_({0, 3}, 1.0);
  const auto l = per_sample_loss(make(spec::LossSpec::Kind::CrossEntropy), perfect,
                                 torch::tensor({3}, torch::kInt64));
  EXPECT_NEAR(l[0].item<double>(), std::log(std::exp(1.0) + 9.0) - 1.0, 1e-12);
}

TEST(Loss, NllTakesOutputAsLogProbabilities) {
  const auto l = per_sample_loss(make(spec::LossSpec::Kind::Nll), kLogits, kLabels);
  EXPECT_DOUBLE_EQ(l[0].item<double>(), -3.0);
  EXPECT_DOUBLE_EQ(l[1].item<double>(), 0.0);
}

TEST(Loss, MseAgainstOneHotByHand) {
  const auto l = per_sample_loss(make(spec::LossSpec::Kind::Mse), kLogits, kLabels);
  EXPECT_NEAR(l[0].item<double>(), (1.0 + 4.0 + 4.0) / 3, 1e-12);
  EXPECT_NEAR(l[1].item<double>(), 1.0 / 3, 1e-12);
}

TEST(Loss, BceFromLogitsAndProbabilitiesByHand) {
  const auto l = per_sample_loss(make(spec::LossSpec::Kind::Bce), kLogits, kLabels);
  const auto softplus = [](double x) { return std::log1p(std::exp(x)); };
  // target 0 → softplus(x); target 1 → softplus(-x)
  EXPECT_NEAR(l[0].item<double>(), (softplus(1) + softplus(2) + softplus(-3)) / 3, 1e-12);
  const torch::Tensor probs = torch::tensor({{0.9, 0.2}}, torch::kFloat64);
  const auto p = per_sample_loss(make(spec::LossSpec::Kind::Bce, false), probs,
                                 torch::tensor({0}, torch::kInt64));
  EXPECT_NEAR(p[0].item<double>(), (-std::log(0.9) - std::log(0.8)) / 2, 1e-12);
}

}  // namespace
}  // namespace lossdoctor::train
