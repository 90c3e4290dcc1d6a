// Label issues: confident learning on k-fold out-of-sample probabilities, on synthetic data and on
// Fashion-MNIST with injected label noise.

#include "lossdoctor/audit/label_issues.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>

#include "lossdoctor/data/dataset.hpp"

namespace lossdoctor::audit {
namespace {

const char* kFashion = "/usr/share/datasets/fashion-mnist";

bool have_fashion() {
  return std::filesystem::exists(std::string(kFashion) + "/train-images-idx3-ubyte.gz");
}

data::Dataset fashion(int64_t limit, double noise, uint64_t seed = 0) {
  spec::DataSpec s;
  s.path = kFashion;
  s.train = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", {}, "", limit, "", true};
  s.inject.label_noise = noise;
  return data::load_dataset(s, seed);
}

/// The test budget allows longer training than the defaults: 8 epochs at lr 1e-3.
LabelIssueOptions longer() {
  LabelIssueOptions o;
  o.epochs = 8;
  o.lr = 1e-3;
  return o;
}

at::Tensor prepare(const at::Tensor& raw) { return (raw / 255.0 - 0.286) / 0.353; }

struct Score {
  double precision = 0, recall = 0, f1 = 0;
};

Score score(const std::vector<int64_t>& flagged, const std::vector<int64_t>& truth) {
  const std::set<int64_t> t(truth.begin(), truth.end());
  int64_t hit = 0;
  for (auto s : flagged) hit += t.count(s);
  Score r;
  r.precision = flagged.empty() ? 0 : static_cast<double>(hit) / flagged.size();
  r.recall = truth.empty() ? 0 : static_cast<double>(hit) / truth.size();
  r.f1 = r.precision + r.recall > 0 ? 2 * r.precision * r.recall / (r.precision + r.recall) : 0;
  return r;
}

/// Two well separated blobs per class on a 1×8×8 image: class c lights up quadrant c.
struct Synthetic {
  at::Tensor images, labels;
  std::vector<int64_t> flipped;
};

Synthetic separable(int64_t per_class, int64_t flips) {
  torch::manual_seed(7);
  const int64_t K = 4, n = per_class * K;
  Synthetic d;
  d.labels = torch::arange(n, torch::kLong).remainder(K);
  d.images = torch::randn({n, 1, 8, 8}) * 0.3;
  for (int64_t s = 0; s < n; ++s) {
    const int64_t c = s % K;
    d.images[s][0].narrow(0, (c / 2) * 4, 4).narrow(1, (c % 2) * 4, 4) += 3.0;
  }
  for (int64_t k = 0; k < flips; ++k) {
    const int64_t s = k * 37 % n;
    d.labels[s] = (d.labels[s].item<int64_t>() + 1 + k % (K - 1)) % K;
    d.flipped.push_back(s);
  }
  std::sort(d.flipped.begin(), d.flipped.end());
  return d;
}

TEST(LabelIssues, SyntheticFlipsFoundExactly) {
  auto d = separable(100, 12);
  LabelIssueOptions o;
  o.epochs = 5;
  o.batch_size = 32;
  o.lr = 5e-3;
  auto r = find_label_issues(d.images, d.labels, 4, o);
  auto got = r.suspects;
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, d.flipped);
  ASSERT_EQ(r.self_confidence.size(), r.suspects.size());
  ASSERT_EQ(r.suggested.size(), r.suspects.size());
  EXPECT_TRUE(std::is_sorted(r.self_confidence.begin(), r.self_confidence.end()));
  for (size_t k = 0; k < r.suspects.size(); ++k) {
    EXPECT_EQ(r.suggested[k], r.suspects[k] % 4);  // the true class of the synthetic sample
  }
  EXPECT_NEAR(r.estimated_noise_rate, 12.0 / 400, 0.02);
}

TEST(LabelIssues, ConfidentJointShapeAndRowSums) {
  auto d = separable(50, 6);
  LabelIssueOptions o;
  o.epochs = 3;
  o.batch_size = 32;
  auto r = find_label_issues(d.images, d.labels, 4, o);
  ASSERT_EQ(r.confident_joint.sizes(), (std::vector<int64_t>{4, 4}));
  ASSERT_EQ(r.noise_matrix.sizes(), (std::vector<int64_t>{4, 4}));
  ASSERT_EQ(r.pred_probs.sizes(), (std::vector<int64_t>{200, 4}));
  EXPECT_TRUE(torch::allclose(r.pred_probs.sum(1), torch::ones({200}), 1e-4, 1e-4));
  // Row i counts samples labelled i that have some class above its threshold: at most n_i.
  const auto rows = r.confident_joint.sum(1);
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_LE(rows[i].item<int64_t>(), d.labels.eq(i).sum().item<int64_t>());
    EXPECT_GT(rows[i].item<int64_t>(), 0);
  }
  EXPECT_NEAR(r.noise_matrix.sum().item<double>(), 1.0, 1e-9);
  EXPECT_NEAR(r.estimated_noise_rate, 1.0 - r.noise_matrix.trace().item<double>(), 1e-9);
}

TEST(LabelIssues, RejectsBadInput) {
  auto d = separable(10, 0);
  LabelIssueOptions o;
  EXPECT_THROW(find_label_issues(d.images.flatten(1), d.labels, 4, o), std::invalid_argument);
  EXPECT_THROW(find_label_issues(d.images, d.labels, 1, o), std::invalid_argument);
  EXPECT_THROW(find_label_issues(d.images, d.labels, 3, o), std::invalid_argument);  // label 3
  o.folds = 1;
  EXPECT_THROW(find_label_issues(d.images, d.labels, 4, o), std::invalid_argument);
  o.folds = 2;
  o.margins = {1.0};
  EXPECT_THROW(find_label_issues(d.images, d.labels, 4, o), std::invalid_argument);
  o.margins.clear();
  o.suspect_below = 1.0;
  EXPECT_THROW(find_label_issues(d.images, d.labels, 4, o), std::invalid_argument);
  o.suspect_below = -0.1;
  EXPECT_THROW(find_label_issues(d.images, d.labels, 4, o), std::invalid_argument);
  o.suspect_below = 0;
  o.rounds = 0;
  EXPECT_THROW(find_label_issues(d.images, d.labels, 4, o), std::invalid_argument);
  o.rounds = 2;
  o.refit_drop_below = 1.5;
  EXPECT_THROW(find_label_issues(d.images, d.labels, 4, o), std::invalid_argument);
}

// Two samples of two classes: the stratified split deals both to fold 0, so its model has nothing
// to train on. It must say "no evidence" (uniform), not zeros, and flag nobody.
TEST(LabelIssues, FoldWithoutTrainingSamplesPredictsUniform) {
  const at::Tensor images = torch::randn({2, 1, 8, 8});
  const at::Tensor labels = torch::tensor({0, 1}, torch::kLong);
  LabelIssueOptions o;
  o.folds = 2;
  const auto r = find_label_issues(images, labels, 2, o);
  EXPECT_TRUE(torch::allclose(r.pred_probs, torch::full({2, 2}, 0.5)));
  EXPECT_TRUE(r.suspects.empty());
  EXPECT_TRUE(r.refit_dropped.empty());
}

TEST(LabelIssues, MarginsReorderSuspects) {
  auto d = separable(50, 6);
  LabelIssueOptions o;
  o.epochs = 3;
  o.batch_size = 32;
  auto base = find_label_issues(d.images, d.labels, 4, o);
  ASSERT_GE(base.suspects.size(), 2u);
  // Margins that say the last suspect is the worst: it moves up.
  o.margins.assign(200, 1.0);
  for (size_t k = 0; k < base.suspects.size(); ++k) {
    o.margins[base.suspects[k]] = static_cast<double>(base.suspects.size() - k);
  }
  auto combined = find_label_issues(d.images, d.labels, 4, o);
  auto a = base.suspects, b = combined.suspects;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, b);  // margins reorder, never add or drop
}

TEST(LabelIssues, FindingNamesRateAndPairs) {
  LabelIssues r;
  r.suspects = {5, 3, 9};
  r.self_confidence = {0.01, 0.02, 0.03};
  r.suggested = {1, 0, 1};
  r.noise_matrix = torch::tensor({0.45, 0.05, 0.10, 0.40}, torch::kDouble).view({2, 2});
  r.estimated_noise_rate = 0.15;
  auto f = label_noise_finding(r, 2, 2);
  EXPECT_EQ(f.cause, "label_noise");
  EXPECT_EQ(f.samples, (std::vector<int64_t>{5, 3}));
  ASSERT_EQ(f.evidence.size(), 3u);
  EXPECT_NE(f.evidence[0].find("15.0%"), std::string::npos);
  EXPECT_NE(f.evidence[1].find("1→0 10.0% (20% of label 1), 0→1 5.0% (10% of label 0)"),
            std::string::npos)
      << f.evidence[1];
  EXPECT_NE(f.evidence[2].find("3 suspected"), std::string::npos);
  EXPECT_TRUE(f.fix.empty());
  EXPECT_GT(f.confidence, 0.5);
}

TEST(LabelIssues, FindingListsEveryPairAboveHalfAPercent) {
  LabelIssues r;
  // Given 0 → true 2: 3% of the samples; given 2 → true 1: 0.6%; given 1 → true 0: 0.2% (left
  // out, counted as a smaller pair).
  r.noise_matrix =
      torch::tensor({0.30, 0.0, 0.03, 0.002, 0.328, 0.0, 0.0, 0.006, 0.334}, torch::kDouble)
          .view({3, 3});
  r.estimated_noise_rate = 0.038;
  const auto f = label_noise_finding(r, 3);
  ASSERT_EQ(f.evidence.size(), 3u);
  EXPECT_NE(f.evidence[1].find("per class pair"), std::string::npos);
  EXPECT_NE(f.evidence[1].find("0→2 3.0% (9% of label 0), 2→1 0.6% (2% of label 2) and 1 "
                               "smaller pairs"),
            std::string::npos)
      << f.evidence[1];
  EXPECT_EQ(f.evidence[1].find("1→0"), std::string::npos);
}

TEST(LabelIssues, FashionMnistTwentyPercentNoise) {
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST not installed (dataset-fashion-mnist)";
  auto ds = fashion(6000, 0.2);
  ASSERT_FALSE(ds.injected.label_noise.empty());
  const auto t0 = std::chrono::steady_clock::now();
  auto r = find_label_issues(prepare(ds.train.images), ds.train.labels, 10, {});
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto sc = score(r.suspects, ds.injected.label_noise);
  std::printf(
      "[label issues 6k/20%%] precision %.3f recall %.3f F1 %.3f, est. noise %.3f, %zu suspects, "
      "%.1f s\n",
      sc.precision, sc.recall, sc.f1, r.estimated_noise_rate, r.suspects.size(), secs);
  EXPECT_GE(sc.precision, 0.8);
  EXPECT_GE(sc.recall, 0.8);
  EXPECT_NEAR(r.estimated_noise_rate, 0.2, 0.12);  // over-estimated: the model's own confusions
  // Same seed → same suspects (on a smaller subset to keep the test short).
  auto small = fashion(1000, 0.2);
  LabelIssueOptions o;
  o.epochs = 1;
  auto a = find_label_issues(prepare(small.train.images), small.train.labels, 10, o);
  auto b = find_label_issues(prepare(small.train.images), small.train.labels, 10, o);
  EXPECT_EQ(a.suspects, b.suspects);
  EXPECT_TRUE(torch::equal(a.pred_probs, b.pred_probs));
}

/// The samples whose out-of-sample P(given) is below `below`: what exclude.txt takes.
std::vector<int64_t> confident(const LabelIssues& r, const at::Tensor& labels, double below) {
  const at::Tensor self = r.pred_probs.gather(1, labels.view({-1, 1})).view({-1});
  std::vector<int64_t> out;
  for (int64_t s = 0; s < self.size(0); ++s) {
    if (self[s].item<double>() < below) out.push_back(s);
  }
  return out;
}

// The refit round (default rounds = 2) trains the folds again without round 1's confident
// suspects: the flips no longer teach the models their wrong labels, so more of them fall below
// the exclude file's P(given) < 0.05 while the precision stays about the same.
TEST(LabelIssues, RefitFindsMoreConfidentFlips) {
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST not installed (dataset-fashion-mnist)";
  auto ds = fashion(6000, 0.2, 1);
  const at::Tensor x = prepare(ds.train.images);
  LabelIssueOptions one;
  one.rounds = 1;
  const auto r1 = find_label_issues(x, ds.train.labels, 10, one);
  const auto r2 = find_label_issues(x, ds.train.labels, 10, {});
  const auto c1 = score(confident(r1, ds.train.labels, 0.05), ds.injected.label_noise);
  const auto c2 = score(confident(r2, ds.train.labels, 0.05), ds.injected.label_noise);
  std::printf(
      "[label issues 6k/20%% P(given) < 0.05] 1 round: P %.3f R %.3f; refit: P %.3f R %.3f\n",
      c1.precision, c1.recall, c2.precision, c2.recall);
  EXPECT_GT(c2.recall, c1.recall + 0.05);
  EXPECT_GT(c2.precision, c1.precision - 0.05);
  EXPECT_GT(c2.f1, c1.f1);
}

TEST(LabelIssues, FashionMnistCleanHasLittleNoise) {
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST not installed (dataset-fashion-mnist)";
  auto ds = fashion(3000, 0.0);
  LabelIssueOptions oo = longer();
  auto r = find_label_issues(prepare(ds.train.images), ds.train.labels, 10, oo);
  std::printf("[label issues 3k clean] est. noise %.3f, %zu suspects\n", r.estimated_noise_rate,
              r.suspects.size());
  EXPECT_LT(r.estimated_noise_rate, 0.1);
  EXPECT_LT(r.suspects.size(), 3000u / 10);
}

// 12k, the issue's target size: printed, not asserted (run with --gtest_also_run_disabled_tests).
TEST(LabelIssues, DISABLED_FashionMnistTwelveThousand) {
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST not installed (dataset-fashion-mnist)";
  auto ds = fashion(12000, 0.2);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = find_label_issues(prepare(ds.train.images), ds.train.labels, 10, {});
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto sc = score(r.suspects, ds.injected.label_noise);
  std::printf(
      "[label issues 12k/20%%] precision %.3f recall %.3f F1 %.3f, est. noise %.3f, %zu suspects, "
      "%.1f s\n",
      sc.precision, sc.recall, sc.f1, r.estimated_noise_rate, r.suspects.size(), secs);
}

}  // namespace
}  // namespace lossdoctor::audit
