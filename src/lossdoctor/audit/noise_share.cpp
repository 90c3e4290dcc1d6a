#include "lossdoctor/audit/noise_share.hpp"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "lossdoctor/audit/checks.hpp"
#include "lossdoctor/data/channel_stats.hpp"

namespace lossdoctor::audit {
namespace {

/// Per class: images with content and noise-like ones among them.
struct ClassCounts {
  std::vector<int64_t> content, noise_like;
};

ClassCounts count_by_class(const at::Tensor& kinds, const at::Tensor& labels, int64_t K,
                           int64_t& with_content, int64_t& noise_like,
                           std::vector<int64_t>* noise_positions) {
  ClassCounts c{std::vector<int64_t>(static_cast<size_t>(K), 0),
                std::vector<int64_t>(static_cast<size_t>(K), 0)};
  const at::Tensor k = kinds.contiguous();
  const at::Tensor y = labels.to(at::kLong).contiguous();
  const auto* kp = k.data_ptr<int8_t>();
  const auto* yp = y.data_ptr<int64_t>();
  for (int64_t s = 0; s < k.numel(); ++s) {
    if (kp[s] == data::kBrokenImage) continue;  // integrity's business; no look at all
    ++with_content;
    const bool noisy = kp[s] == data::kNoiseLikeImage;
    if (noisy) {
      ++noise_like;
      if (noise_positions != nullptr) noise_positions->push_back(s);
    }
    if (yp[s] < 0 || yp[s] >= K) continue;
    ++c.content[static_cast<size_t>(yp[s])];
    if (noisy) ++c.noise_like[static_cast<size_t>(yp[s])];
  }
  return c;
}

/// Variance of a binomial share of `n` with `x` hits, never 0 (a class with no noise-like image
/// in 50 could still hold a few percent): the share is read as (x + 1) / (n + 2).
double share_variance(int64_t x, int64_t n) {
  const double p = (static_cast<double>(x) + 1) / (static_cast<double>(n) + 2);
  return p * (1 - p) / static_cast<double>(n);
}

}  // namespace

NoiseShare measure_noise_share(const data::Dataset& ds, const NoiseShareOptions& o,
                               const data::SplitImageKinds* kinds) {
  for (const data::Split* s : {&ds.train, &ds.val}) {
    if (s->size() > 0 && (!s->images.defined() || s->images.dim() != 4)) {
      throw std::invalid_argument("noise share: images must be 4-D [N, C, H, W]");
    }
  }
  NoiseShare out;
  const int64_t K = ds.num_classes;
  if (K < 1 || ds.train.size() == 0 || ds.val.size() == 0) {
    out.skipped = "a split is empty";
    return out;
  }
  const ClassCounts t = count_by_class(
      kinds != nullptr ? kinds->train : data::odd_image_kinds(ds.train.images), ds.train.labels, K,
      out.train_with_content, out.train_noise_like, &out.noise_like_train);
  const ClassCounts v =
      count_by_class(kinds != nullptr ? kinds->val : data::odd_image_kinds(ds.val.images),
                     ds.val.labels, K, out.val_with_content, out.val_noise_like, nullptr);
  if (out.val_with_content < o.min_val_images) {
    out.skipped = fmt::format("{} validation images with content: fewer than {}",
                              out.val_with_content, o.min_val_images);
    return out;
  }
  double train_sum = 0, val_sum = 0, var = 0;
  int64_t compared = 0;
  for (size_t c = 0; c < static_cast<size_t>(K); ++c) {
    if (t.content[c] == 0 || v.content[c] == 0) continue;
    train_sum += static_cast<double>(t.noise_like[c]) / static_cast<double>(t.content[c]);
    val_sum += static_cast<double>(v.noise_like[c]) / static_cast<double>(v.content[c]);
    var += share_variance(t.noise_like[c], t.content[c]) +
           share_variance(v.noise_like[c], v.content[c]);
    ++compared;
  }
  if (compared == 0) {
    out.skipped = "no class has images with content in both splits";
    return out;
  }
  const auto C = static_cast<double>(compared);
  out.measured = true;
  out.classes_compared = compared;
  out.train_share = train_sum / C;
  out.val_share = val_sum / C;
  out.standard_error = std::sqrt(var) / C;
  return out;
}

std::optional<Finding> noise_share_finding(const NoiseShare& s, const NoiseShareOptions& o,
                                           size_t max_samples) {
  if (!s.measured || s.excess() < o.min_excess || s.z() < o.min_z) return std::nullopt;
  Finding f;
  f.cause = "corrupt_samples";
  f.severity = "warning";
  f.status = "suspected";
  f.confidence = std::min(o.max_confidence, o.base_confidence + o.per_excess * s.excess());
  f.evidence.push_back(fmt::format(
      "{:.1f}% of the training images look like pure noise against {:.1f}% of the validation "
      "images of the same classes (class-balanced; {:.1f} standard errors apart): {} of {} "
      "training images vs {} of {} validation images",
      100 * s.train_share, 100 * s.val_share, s.z(), s.train_noise_like, s.train_with_content,
      s.val_noise_like, s.val_with_content));
  f.evidence.push_back(
      "noise-like: neighbouring pixels differ as much as the image's contrast and nothing is left "
      "at a coarse scale; data that looks so by nature looks so in both splits");
  f.explanation =
      "Images replaced by noise (a broken export, a loader that garbles some files) carry a "
      "label but nothing that predicts it, so part of every batch is unlearnable and pulls the "
      "network towards guessing. Drop the listed training images (data.train.exclude) or fix the "
      "files they come from.";
  f.samples = s.noise_like_train;
  abbreviate_samples(f, max_samples);
  return f;
}

std::vector<Finding> audit_noise_share(const data::Dataset& ds, const NoiseShareOptions& o,
                                       size_t max_samples) {
  if (auto f = noise_share_finding(measure_noise_share(ds, o), o, max_samples)) return {*f};
  return {};
}

}  // namespace lossdoctor::audit
