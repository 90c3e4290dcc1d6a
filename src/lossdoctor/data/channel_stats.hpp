#pragma once
// Per-channel statistics of a batch of images that tolerate corrupt pixels.
//
// Contract:
//   requires: images [N, C, H, W] of a floating dtype.
//   ensures:  mean and std (population) per channel [C], computed over the finite values only
//             (a channel with none gives mean 0, std 0), in the images' dtype; `finite` is the
//             [N, C, H, W] mask of finite values they were computed from.
//   odd_image_mask: see its comment; used by the probe (share of a batch) and by confirmation
//             (the images to drop when the audit's outlier statistics flag nothing, e.g. when a
//             third of the images are noise and noise is no longer an outlier).

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace lossdoctor::data {

struct ChannelMoments {
  at::Tensor mean, std, finite;
};

ChannelMoments finite_channel_moments(const at::Tensor& images);

/// Bool mask [N] of images that look corrupt: a non-finite value, constant (std ≤ 1e-6 × the
/// batch's largest magnitude), or noise-like (mean |horizontal difference| and mean |vertical
/// difference| both > 0.8 × the image's std; natural images stay well below) and flat at a coarse
/// scale (the std of its 4×4 block means, 2×2 below 16 pixels a side, at most 1.6 × white
/// noise's 1/4 or 1/2 of the image's std; skipped below 4 pixels) while noise-like images are at
/// most half of those given (a majority is the data's nature, not corruption). All false for
/// images narrower than 2 pixels.
at::Tensor odd_image_mask(const at::Tensor& images);

/// What odd_image_mask found, image by image: int8 [N] of kCleanImage, kBrokenImage (a
/// non-finite value or constant: no content at all) or kNoiseLikeImage (noise-like: corruption
/// or data that merely looks noisy, which only training can tell apart — see the
/// corrupt_samples rule).
inline constexpr int8_t kCleanImage = 0;
inline constexpr int8_t kBrokenImage = 1;
inline constexpr int8_t kNoiseLikeImage = 2;
at::Tensor odd_image_kinds(const at::Tensor& images);

}  // namespace lossdoctor::data
