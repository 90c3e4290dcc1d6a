// odd_image_kinds and odd_image_mask: which images look corrupt (probe looks, rerun drops).

#include "lossdoctor/data/channel_stats.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>

namespace lossdoctor::data {
namespace {

TEST(OddImageMask, FlagsNonFiniteConstantAndNoiseButNotSmoothImages) {
  torch::manual_seed(0);
  // Smooth images: a gradient plus a little texture.
  const auto ramp = torch::linspace(0, 255, 28).view({1, 1, 1, 28}).expand({1, 1, 28, 28});
  torch::Tensor x = ramp.repeat({6, 1, 1, 1}).clone() + torch::rand({6, 1, 28, 28});
  x[1].fill_(std::numeric_limits<float>::quiet_NaN());           // non-finite
  x[2].fill_(7.0);                                               // constant
  x[3] = torch::randint(0, 256, {1, 28, 28}).to(torch::kFloat);  // uniform noise
  const torch::Tensor mask = odd_image_mask(x, 0.5);
  ASSERT_EQ(mask.sizes(), (std::vector<int64_t>{6}));
  const std::vector<bool> expected = {false, true, true, true, false, false};
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(mask[i].item<bool>(), expected[i]) << "image " << i;
}

TEST(OddImageKinds, AUniformColourNormalisedChannelByChannelIsBroken) {
  // A white RGB image after per-channel normalisation: each channel constant, the three
  // constants 1e-4 apart (held-out zoo 15's saturated images). It has no content at all.
  torch::manual_seed(4);
  const auto mean = torch::tensor({0.561, 0.563, 0.563}).view({1, 3, 1, 1});
  const auto std = torch::tensor({0.224, 0.223, 0.223}).view({1, 3, 1, 1});
  const auto ramp = torch::linspace(0, 1, 32).view({1, 1, 1, 32}).expand({3, 3, 32, 32});
  torch::Tensor x = ramp.clone() + 0.05 * torch::rand({3, 3, 32, 32});
  x[1].fill_(1.0);  // saturated white
  x = (x - mean) / std;
  ASSERT_GT(x[1].std().item<double>(), 1e-5);  // not constant over the whole image
  const torch::Tensor kinds = odd_image_kinds(x);
  EXPECT_EQ(kinds[0].item<int8_t>(), kCleanImage);
  EXPECT_EQ(kinds[1].item<int8_t>(), kBrokenImage);
  EXPECT_EQ(kinds[2].item<int8_t>(), kCleanImage);
  // One channel with content is an image (a red glyph on a red ground varies in red only).
  x[2].narrow(0, 1, 2).fill_(0.5);
  EXPECT_EQ(odd_image_kinds(x)[2].item<int8_t>(), kCleanImage);
}

TEST(OddImageMask, FineStripesAreNotNoise) {
  // Vertical stripes of period 3: rough horizontally, smooth vertically.
  const auto cols = torch::arange(28).remainder(3).to(torch::kFloat).mul(100);
  const torch::Tensor x = cols.view({1, 1, 1, 28}).expand({4, 1, 28, 28}).clone();
  EXPECT_FALSE(odd_image_mask(x, 0.5).any().item<bool>());
}

TEST(OddImageMask, AShapeUnderHeavyPixelNoiseIsNotNoise) {
  // Left half bright, right half dark, under pixel noise that makes the image rough in every
  // direction (mean |difference| ≈ 0.92 of its std): its 4×4 blocks keep the halves' contrast.
  torch::manual_seed(2);
  const auto halves = torch::where(torch::arange(32) < 16, 0.7, -0.7).to(torch::kFloat);
  const torch::Tensor shape = halves.view({1, 1, 1, 32}).expand({4, 3, 32, 32});
  torch::Tensor x = shape + torch::randn({4, 3, 32, 32});
  const auto hdiff = (x.narrow(3, 1, 31) - x.narrow(3, 0, 31)).abs().mean({1, 2, 3});
  ASSERT_TRUE(hdiff.gt(0.8 * x.reshape({4, -1}).std(1)).all().item<bool>());  // rough
  EXPECT_FALSE(odd_image_mask(x, 0.5).any().item<bool>());
  x[0] = torch::randn({3, 32, 32});  // the same pixel noise without the shape: noise
  EXPECT_TRUE(odd_image_mask(x, 0.5)[0].item<bool>());
}

TEST(OddImageMask, SmallNoiseImagesArePooledInPairs) {
  torch::manual_seed(3);
  torch::Tensor x = torch::linspace(0, 255, 8).view({1, 1, 1, 8}).repeat({3, 1, 8, 1});
  x[1] = torch::randint(0, 256, {1, 8, 8}).to(torch::kFloat);
  const torch::Tensor mask = odd_image_mask(x, 0.5);
  EXPECT_FALSE(mask[0].item<bool>());
  EXPECT_TRUE(mask[1].item<bool>());
  EXPECT_FALSE(mask[2].item<bool>());
}

TEST(OddImageMask, NoiseThatIsMostOfTheDataIsItsNatureNotCorruption) {
  torch::manual_seed(1);
  const auto ramp = torch::linspace(0, 255, 20).view({1, 1, 1, 20}).expand({10, 1, 20, 20});
  torch::Tensor x = ramp.clone() + torch::rand({10, 1, 20, 20});
  x.slice(0, 0, 4) = torch::randint(0, 256, {4, 1, 20, 20}).to(torch::kFloat);  // 4 of 10: flagged
  EXPECT_EQ(odd_image_mask(x, 0.5).sum().item<int64_t>(), 4);
  x.slice(0, 0, 6) = torch::randint(0, 256, {6, 1, 20, 20}).to(torch::kFloat);  // 6 of 10: the data
  x[9].fill_(3.0);  // ... but a constant image is still corrupt
  const torch::Tensor mask = odd_image_mask(x, 0.5);
  EXPECT_EQ(mask.sum().item<int64_t>(), 1);
  EXPECT_TRUE(mask[9].item<bool>());
  // Image by image, the kinds do not depend on the rest of the batch.
  const torch::Tensor kinds = odd_image_kinds(x);
  EXPECT_EQ(kinds.eq(kNoiseLikeImage).sum().item<int64_t>(), 6);
  EXPECT_EQ(kinds[9].item<int8_t>(), kBrokenImage);
  EXPECT_EQ(odd_image_mask(x, 0.75).sum().item<int64_t>(), 7);  // 6 of 10 is below 0.75
  // Broken images do not dilute the share: 6 noise-like of the 7 with content is above 0.75.
  x[7].fill_(0.0);
  x[8].fill_(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(odd_image_mask(x, 0.75).sum().item<int64_t>(), 3);
}

TEST(OddImageMask, EmptyOrTooNarrowBatchesFlagNothing) {
  EXPECT_EQ(odd_image_mask(torch::zeros({0, 1, 28, 28}), 0.5).numel(), 0);
  const torch::Tensor narrow = odd_image_mask(torch::rand({3, 1, 5, 1}), 0.5);
  EXPECT_EQ(narrow.numel(), 3);
  EXPECT_FALSE(narrow.any().item<bool>());
}

TEST(OddImageKinds, ALargeBatchIsJudgedImageByImageWithOneScale) {
  // Over 2048 images the batch is judged in chunks; every image must come out as it does in a
  // small batch with the same largest magnitude (image 0 carries it in both).
  torch::manual_seed(1);
  const auto ramp = torch::linspace(0, 200, 16).view({1, 1, 1, 16}).expand({1, 1, 16, 16});
  torch::Tensor x = ramp.repeat({5000, 1, 1, 1}).clone() + torch::rand({5000, 1, 16, 16});
  x[0][0][0][0] = 255.0;
  for (int64_t i = 3; i < 5000; i += 7) x[i] = torch::rand({1, 16, 16}) * 255.0;  // noise
  for (int64_t i = 5; i < 5000; i += 101) x[i].fill_(3.0);                        // constant
  x[4999][0][3][3] = std::numeric_limits<float>::infinity();                      // last chunk
  const torch::Tensor kinds = odd_image_kinds(x);
  ASSERT_EQ(kinds.numel(), 5000);
  for (int64_t i = 1; i < 5000; i += 499) {
    const int64_t m = std::min<int64_t>(100, 5000 - i);
    const torch::Tensor small = torch::cat({x.narrow(0, 0, 1), x.narrow(0, i, m)});
    const torch::Tensor alone = odd_image_kinds(small).narrow(0, 1, m);
    EXPECT_TRUE(alone.equal(kinds.narrow(0, i, m))) << "images " << i << "..";
  }
  int64_t noise = 0;  // every 7th from 3, less those a constant image replaced
  for (int64_t i = 3; i < 5000; i += 7) noise += (i - 5) % 101 != 0 ? 1 : 0;
  // (A white-noise image's 4×4 block means scatter: about one in a thousand looks structured.)
  EXPECT_NEAR(kinds.eq(kNoiseLikeImage).sum().item<int64_t>(), noise, 3);
  EXPECT_EQ(kinds[4999].item<int8_t>(), kBrokenImage);
  EXPECT_EQ(kinds[5].item<int8_t>(), kBrokenImage);
}

}  // namespace
}  // namespace lossdoctor::data
