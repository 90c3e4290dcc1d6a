#pragma once
// Per-channel statistics of a batch of images that tolerate corrupt pixels.
//
// Contract:
//   requires: images [N, C, H, W] of a floating dtype.
//   ensures:  mean and std (population) per channel [C], computed over the finite values only
//             (a channel with none gives mean 0, std 0), in the images' dtype; `finite` is the
//             [N, C, H, W] mask of finite values they were computed from.
//   odd_image_kinds: see its comment; used by the probe (each image of a probe batch).
//   odd_image_mask: see its comment; used by confirmation on the whole training set (the
//             images to drop besides the audit's outliers: when a third or half of the images
//             are noise, noise is no longer an outlier).

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace lossdoctor::data {

struct ChannelMoments {
  at::Tensor mean, std, finite;
};

ChannelMoments finite_channel_moments(const at::Tensor& images);

/// `images` with each channel shifted and scaled to mean 0, std 1 over the finite values of the
/// whole tensor (non-finite values become 0; clamped to ±10): what the audit's small CNNs train on.
at::Tensor standardise_channels(const at::Tensor& images);

/// How each image looks, judged image by image: int8 [N] of kCleanImage, kBrokenImage (a non-finite
/// value, or constant: every channel's std ≤ 1e-6 × the batch's largest magnitude; no content at
/// all) or kNoiseLikeImage: mean |horizontal difference| and mean |vertical difference| both > 0.8
/// × the image's std (natural images stay well below) and flat at a coarse scale (the std of its
/// 4×4 block means, 2×2 below 16 pixels a side, at most 1.6 × white noise's 1/4 or 1/2 of the
/// image's std; skipped below 4 pixels). Noise-like is corruption or data that merely looks noisy,
/// which only training can tell apart (the corrupt_samples rule). Whether noise is the data's
/// nature is decided over the whole data set, not here: one batch's share of noise-like images is
/// too noisy a measure (a 50% injection crosses one half in every other batch). All clean for
/// images narrower than 2 pixels.
inline constexpr int8_t kCleanImage = 0;
inline constexpr int8_t kBrokenImage = 1;
inline constexpr int8_t kNoiseLikeImage = 2;
at::Tensor odd_image_kinds(const at::Tensor& images);

/// odd_image_kinds of a data set's two splits, computed once for the checks that each read both
/// (the noise share and the label agreement: ~0.3 s each on Fashion-MNIST's 70 000 images).
struct SplitImageKinds {
  at::Tensor train;  ///< int8 [N_train]
  at::Tensor val;    ///< int8 [N_val]
};

/// Bool mask [N] of the images that look corrupt (odd_image_kinds), for a whole data set: broken
/// ones always; noise-like ones only while they are at most `max_noise_like_share` of the images
/// that are not broken (above it, noise is what this data looks like).
at::Tensor odd_image_mask(const at::Tensor& images, double max_noise_like_share);
/// odd_image_mask of images whose odd_image_kinds are `kinds` (int8 [N]).
at::Tensor odd_kinds_mask(const at::Tensor& kinds, double max_noise_like_share);

}  // namespace lossdoctor::data
