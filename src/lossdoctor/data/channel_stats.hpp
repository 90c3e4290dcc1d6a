#pragma once
// Per-channel statistics of a batch of images that tolerate corrupt pixels.
//
// Contract:
//   requires: images [N, C, H, W] of a floating dtype.
//   ensures:  mean and std (population) per channel [C], computed over the finite values only
//             (a channel with none gives mean 0, std 0), in the images' dtype; `finite` is the
//             [N, C, H, W] mask of finite values they were computed from.

#include <ATen/core/Tensor.h>

namespace lossdoctor::data {

struct ChannelMoments {
  at::Tensor mean, std, finite;
};

ChannelMoments finite_channel_moments(const at::Tensor& images);

}  // namespace lossdoctor::data
