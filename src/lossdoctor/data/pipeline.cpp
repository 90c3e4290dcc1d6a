#include "lossdoctor/data/pipeline.hpp"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "lossdoctor/data/rng.hpp"
#include "lossdoctor/util/errors.hpp"
#include "lossdoctor/util/torch_compat.hpp"

namespace lossdoctor::data {
namespace {

using Kind = spec::TransformSpec::Kind;

bool is_random(const spec::TransformSpec& t) { return t.is_augmentation(); }

const char* step_name(Kind k) {
  switch (k) {
    case Kind::Scale:
      return "scale";
    case Kind::Normalize:
      return "normalize";
    case Kind::Resize:
      return "resize";
    case Kind::RandomCrop:
      return "random_crop";
    case Kind::RandomFlip:
      return "random_flip";
  }
  return "?";
}

/// Per-channel values as a [1, C, 1, 1] tensor (one value broadcasts).
at::Tensor channel_values(const std::vector<double>& v) {
  std::vector<float> f(v.begin(), v.end());
  return at::tensor(at::ArrayRef<float>(f), at::kFloat).view({1, -1, 1, 1});
}

at::Tensor apply_step(const spec::TransformSpec& t, const at::Tensor& x, std::mt19937_64& rng) {
  switch (t.kind) {
    case Kind::Scale:
      return x * t.factor;
    case Kind::Normalize:
      return (x - channel_values(t.mean)) / channel_values(t.std);
    case Kind::Resize:
      if (x.size(2) == t.height && x.size(3) == t.width) return x;
      return compat::resize_bilinear(x, t.height, t.width);
    case Kind::RandomCrop: {
      const at::Tensor padded =
          t.padding > 0 ? at::constant_pad_nd(x, {t.padding, t.padding, t.padding, t.padding}, 0.0)
                        : x;
      const int64_t b = x.size(0), ph = padded.size(2), pw = padded.size(3);
      at::Tensor out = at::empty({b, x.size(1), t.size, t.size}, x.options());
      for (int64_t i = 0; i < b; ++i) {
        const auto top = static_cast<int64_t>(detail::uniform_below(rng, ph - t.size + 1));
        const auto left = static_cast<int64_t>(detail::uniform_below(rng, pw - t.size + 1));
        out[i].copy_(padded[i].narrow(1, top, t.size).narrow(2, left, t.size));
      }
      return out;
    }
    case Kind::RandomFlip: {
      const int64_t b = x.size(0);
      std::vector<int64_t> flip;
      for (int64_t i = 0; i < b; ++i) {
        if (rng() >> 63) flip.push_back(i);
      }
      if (flip.empty()) return x;
      at::Tensor out = x.clone();
      const at::Tensor idx = at::tensor(at::ArrayRef<int64_t>(flip), at::kLong);
      out.index_copy_(0, idx, x.index_select(0, idx).flip({3}));
      return out;
    }
  }
  return x;
}

std::string fmt_values(const std::vector<double>& v) {
  std::vector<std::string> parts;
  for (double d : v) parts.push_back(fmt::format("{:.3g}", d));
  return fmt::format("[{}]", fmt::join(parts, ", "));
}

}  // namespace

Pipeline::Pipeline(std::vector<spec::TransformSpec> steps, std::string key_path)
    : steps_(std::move(steps)), key_path_(std::move(key_path)) {
  while (prepared_prefix_ < steps_.size() && !is_random(steps_[prepared_prefix_])) {
    ++prepared_prefix_;
  }
}

Shape3 Pipeline::check(Shape3 input) const {
  auto [c, h, w] = input;
  for (size_t i = 0; i < steps_.size(); ++i) {
    const auto& t = steps_[i];
    const std::string key = fmt::format("{}[{}].{}", key_path_, i, step_name(t.kind));
    auto fail = [&](const std::string& message) { throw SpecError(t.where.str(), key, message); };
    switch (t.kind) {
      case Kind::Scale:
        if (!std::isfinite(t.factor)) fail(fmt::format("factor must be finite, got {}", t.factor));
        break;
      case Kind::Normalize: {
        auto count_ok = [c = c](size_t n) { return n == 1 || static_cast<int64_t>(n) == c; };
        if (!count_ok(t.mean.size())) {
          fail(fmt::format("mean has {} values but the images have {} channel(s): give 1 or {}",
                           t.mean.size(), c, c));
        }
        if (!count_ok(t.std.size())) {
          fail(fmt::format("std has {} values but the images have {} channel(s): give 1 or {}",
                           t.std.size(), c, c));
        }
        for (double s : t.std) {
          if (s == 0 || !std::isfinite(s)) fail(fmt::format("std must be non-zero, got {}", s));
        }
        break;
      }
      case Kind::Resize:
        if (t.height < 1 || t.width < 1) {
          fail(fmt::format("cannot resize to {}x{}: both sides must be at least 1", t.height,
                           t.width));
        }
        h = t.height;
        w = t.width;
        break;
      case Kind::RandomCrop:
        if (t.size < 1) fail(fmt::format("size must be at least 1, got {}", t.size));
        if (t.padding < 0) fail(fmt::format("padding must be ≥ 0, got {}", t.padding));
        if (t.size > h + 2 * t.padding || t.size > w + 2 * t.padding) {
          fail(
              fmt::format("crop {}x{} is larger than the padded image {}x{} ({}x{} plus padding "
                          "{})",
                          t.size, t.size, h + 2 * t.padding, w + 2 * t.padding, h, w, t.padding));
        }
        h = w = t.size;
        break;
      case Kind::RandomFlip:
        if (!t.horizontal) fail("only horizontal flips are supported");
        break;
    }
  }
  return {c, h, w};
}

at::Tensor Pipeline::prepare(const at::Tensor& images) const {
  check({images.size(1), images.size(2), images.size(3)});
  at::Tensor x = images;
  std::mt19937_64 unused;
  for (size_t i = 0; i < prepared_prefix_; ++i) x = apply_step(steps_[i], x, unused);
  return x.contiguous();
}

at::Tensor Pipeline::apply_batch(const at::Tensor& batch, std::mt19937_64& rng) const {
  at::Tensor x = batch;
  for (size_t i = prepared_prefix_; i < steps_.size(); ++i) x = apply_step(steps_[i], x, rng);
  return x;
}

bool Pipeline::has_random_steps() const {
  for (const auto& t : steps_) {
    if (is_random(t)) return true;
  }
  return false;
}

std::string Pipeline::describe() const {
  if (steps_.empty()) return "none (raw pixel values)";
  std::vector<std::string> parts;
  for (const auto& t : steps_) {
    switch (t.kind) {
      case Kind::Scale:
        parts.push_back(fmt::format("scale({:.3g})", t.factor));
        break;
      case Kind::Normalize:
        parts.push_back(fmt::format("normalize({}, {})", fmt_values(t.mean), fmt_values(t.std)));
        break;
      case Kind::Resize:
        parts.push_back(fmt::format("resize({}x{})", t.height, t.width));
        break;
      case Kind::RandomCrop:
        parts.push_back(fmt::format("random_crop({}, pad {})", t.size, t.padding));
        break;
      case Kind::RandomFlip:
        parts.push_back("random_flip(horizontal)");
        break;
    }
  }
  return fmt::format("{}", fmt::join(parts, " → "));
}

Pipeline make_train_pipeline(const spec::DataSpec& spec) {
  return Pipeline(spec.train_transforms, "data.transforms.train");
}

Pipeline make_val_pipeline(const spec::DataSpec& spec) {
  if (spec.val_transforms_given) return Pipeline(spec.val_transforms, "data.transforms.val");
  std::vector<spec::TransformSpec> steps;
  for (const auto& t : spec.train_transforms) {
    if (!t.is_augmentation()) steps.push_back(t);
  }
  return Pipeline(std::move(steps), "data.transforms.train");
}

}  // namespace lossdoctor::data
