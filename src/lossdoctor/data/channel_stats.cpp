#include "lossdoctor/data/channel_stats.hpp"

#include <ATen/ATen.h>

namespace lossdoctor::data {

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

}  // namespace lossdoctor::data
