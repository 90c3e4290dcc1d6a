// Noise-like images, training split against validation: injected noise images are found and
// listed; data that is noisy by nature, a class prior that differs between the splits, blank
// images and an excess just under the bar are not corruption.
#include "lossdoctor/audit/noise_share.hpp"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <set>

#include "lossdoctor/data/channel_stats.hpp"

namespace lossdoctor::audit::test {
namespace {

constexpr int64_t kClasses = 4;

/// n smooth images 1×16×16 in 0..255 (bilinear blow-ups of 4×4 noise); labels i % K.
data::Split smooth_split(int64_t n, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  data::Split s;
  const at::Tensor base = at::rand({n, 1, 4, 4}, gen) * 120.0 + 60.0;
  s.images = at::upsample_bilinear2d(base, {16, 16}, false).contiguous();
  s.labels = at::arange(n, at::kLong).remainder(kClasses);
  return s;
}

data::Dataset smooth(int64_t n = 800, int64_t nv = 400) {
  data::Dataset ds;
  ds.num_classes = kClasses;
  ds.train = smooth_split(n, 1);
  ds.val = smooth_split(nv, 2);
  return ds;
}

/// Replaces image i of `s` by uniform noise in 0..255 where pick(i); returns their positions.
template <typename Pick>
std::set<int64_t> noise_images(data::Split& s, Pick pick, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::set<int64_t> out;
  for (int64_t i = 0; i < s.size(); ++i) {
    if (!pick(i)) continue;
    s.images[i].copy_(at::rand({1, 16, 16}, gen) * 255.0);
    out.insert(i);
  }
  return out;
}

TEST(NoiseShare, CleanSplitsHaveNoExcess) {
  const auto ds = smooth();
  const NoiseShare s = measure_noise_share(ds);
  ASSERT_TRUE(s.measured) << s.skipped;
  EXPECT_EQ(s.train_noise_like, 0);
  EXPECT_EQ(s.val_noise_like, 0);
  EXPECT_EQ(s.classes_compared, kClasses);
  EXPECT_FALSE(noise_share_finding(s).has_value());
}

TEST(NoiseShare, InjectedNoiseImagesAreFoundAndListed) {
  auto ds = smooth();
  const auto injected = noise_images(
      ds.train, [](int64_t i) { return i % 5 == 0; }, 7);  // 20%
  const NoiseShare s = measure_noise_share(ds);
  ASSERT_TRUE(s.measured);
  EXPECT_NEAR(s.train_share, 0.2, 0.01);
  EXPECT_EQ(s.val_share, 0.0);
  EXPECT_GT(s.z(), 8);
  const auto f = noise_share_finding(s);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->cause, "corrupt_samples");
  EXPECT_EQ(f->severity, "warning");
  EXPECT_NEAR(f->confidence, 0.9, 1e-9);  // 0.4 + 10 × 0.2, capped
  EXPECT_EQ(std::set<int64_t>(f->samples.begin(), f->samples.end()), injected);
  EXPECT_NE(f->evidence.front().find("20.0% of the training images"), std::string::npos);
  // Kinds the caller already has (the doctor computes them once for two checks) are read as
  // given: the same shares from them, and other kinds give other shares.
  data::SplitImageKinds kinds{data::odd_image_kinds(ds.train.images),
                              data::odd_image_kinds(ds.val.images)};
  const NoiseShare given = measure_noise_share(ds, {}, &kinds);
  EXPECT_EQ(given.train_noise_like, s.train_noise_like);
  EXPECT_EQ(given.noise_like_train, s.noise_like_train);
  EXPECT_DOUBLE_EQ(given.z(), s.z());
  kinds.train.zero_();  // as if every training image looked clean
  EXPECT_EQ(measure_noise_share(ds, {}, &kinds).train_noise_like, 0);
  // The audit's entry point gives the same finding, its samples capped.
  const auto capped = audit_noise_share(ds, {}, 10);
  ASSERT_EQ(capped.size(), 1U);
  EXPECT_EQ(capped[0].samples.size(), 10U);
}

TEST(NoiseShare, DataNoisyByNatureInBothSplitsIsNotCorruption) {
  auto ds = smooth();
  noise_images(
      ds.train, [](int64_t i) { return i % 3 == 0; }, 7);
  noise_images(
      ds.val, [](int64_t i) { return i % 3 == 0; }, 8);
  const NoiseShare s = measure_noise_share(ds);
  ASSERT_TRUE(s.measured);
  EXPECT_GT(s.train_share, 0.3);
  EXPECT_NEAR(s.excess(), 0.0, 0.03);
  EXPECT_FALSE(noise_share_finding(s).has_value());
}

TEST(NoiseShare, AClassPriorThatDiffersIsNotCorruption) {
  // Class 0 is noise-like by nature in both splits, but makes up far more of training (every
  // image of class 0 kept, the other classes cut to a quarter): a pooled share would be 57% vs
  // 25%; class by class the shares are equal.
  data::Dataset ds;
  ds.num_classes = kClasses;
  data::Split full = smooth_split(2400, 1);
  noise_images(
      full, [](int64_t i) { return i % kClasses == 0; }, 7);
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < full.size(); ++i)
    if (i % kClasses == 0 || i % 16 < kClasses) keep.push_back(i);
  const at::Tensor idx = at::tensor(keep, at::kLong);
  ds.train.images = full.images.index_select(0, idx);
  ds.train.labels = full.labels.index_select(0, idx);
  ds.val = smooth_split(400, 2);
  noise_images(
      ds.val, [](int64_t i) { return i % kClasses == 0; }, 8);
  const NoiseShare s = measure_noise_share(ds);
  ASSERT_TRUE(s.measured);
  EXPECT_GT(static_cast<double>(s.train_noise_like) / static_cast<double>(s.train_with_content),
            0.5);
  EXPECT_NEAR(s.excess(), 0.0, 0.01);
  EXPECT_FALSE(noise_share_finding(s).has_value());
}

TEST(NoiseShare, BlankImagesAreNotCounted) {
  auto ds = smooth();
  for (int64_t i = 0; i < ds.train.size(); i += 2) ds.train.images[i].fill_(0.0);  // broken
  const NoiseShare s = measure_noise_share(ds);
  ASSERT_TRUE(s.measured);
  EXPECT_EQ(s.train_with_content, ds.train.size() / 2);
  EXPECT_EQ(s.train_noise_like, 0);
  EXPECT_FALSE(noise_share_finding(s).has_value());
}

TEST(NoiseShare, AnExcessJustUnderTheBarIsNoFinding) {
  auto ds = smooth(4000, 2000);
  noise_images(
      ds.train, [](int64_t i) { return (i / kClasses) % 40 == 0; }, 7);  // 2.5% < 3%
  const NoiseShare s = measure_noise_share(ds);
  ASSERT_TRUE(s.measured);
  EXPECT_NEAR(s.excess(), 0.025, 0.002);
  EXPECT_GT(s.z(), 4);  // significant, but too small to matter
  EXPECT_FALSE(noise_share_finding(s).has_value());
  EXPECT_TRUE(noise_share_finding(s, NoiseShareOptions().with_min_excess(0.02)).has_value());
  // And a large excess on too few images is not significant enough.
  auto few = smooth(40, 400);
  noise_images(
      few.train, [](int64_t i) { return i < kClasses; }, 7);  // 4 of 40
  const NoiseShare t = measure_noise_share(few);
  ASSERT_TRUE(t.measured);
  EXPECT_GT(t.excess(), 0.05);
  EXPECT_LT(t.z(), 4);
  EXPECT_FALSE(noise_share_finding(t).has_value());
}

TEST(NoiseShare, TooLittleValidationDataIsNotMeasured) {
  auto ds = smooth(800, 10);
  noise_images(
      ds.train, [](int64_t i) { return i % 2 == 0; }, 7);
  const NoiseShare s = measure_noise_share(ds);
  EXPECT_FALSE(s.measured);
  EXPECT_NE(s.skipped.find("10 validation images"), std::string::npos);
  EXPECT_FALSE(noise_share_finding(s).has_value());
  data::Dataset empty = smooth();
  empty.val = data::Split{};
  EXPECT_FALSE(measure_noise_share(empty).measured);
}

TEST(NoiseShare, ImagesThatAreNot4DAreRefused) {
  auto ds = smooth();
  ds.train.images = ds.train.images.view({ds.train.size(), 16, 16});
  EXPECT_THROW(measure_noise_share(ds), std::invalid_argument);
}

}  // namespace
}  // namespace lossdoctor::audit::test
