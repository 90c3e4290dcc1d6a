#pragma once
// Per-split transform pipeline. Leading deterministic steps (scale, normalize, resize) run once
// over the whole split (prepare); the rest run per batch (apply_batch), so nothing is decoded or
// rescaled twice.
//
// Contract:
//   requires: images float32 [N, C, H, W].
//   ensures:  prepare() then apply_batch() equals applying every step in order to each image.
//             apply_batch is deterministic given the rng state.
//   throws:   SpecError (with the transform's location) from check() when a step cannot apply
//             to the input shape: normalize with a mean/std count that is neither 1 nor C,
//             a crop larger than the padded image, resize to zero.

#include <ATen/core/Tensor.h>

#include <array>
#include <random>
#include <string>
#include <vector>

#include "lossdoctor/spec/spec.hpp"

namespace lossdoctor::data {

using Shape3 = std::array<int64_t, 3>;  ///< {C, H, W}

class Pipeline {
 public:
  Pipeline() = default;
  explicit Pipeline(std::vector<spec::TransformSpec> steps,
                    std::string key_path = "data.transforms");

  /// Validates every step against the input shape and returns the output shape.
  Shape3 check(Shape3 input) const;
  /// Applies the leading deterministic steps to a whole split.
  at::Tensor prepare(const at::Tensor& images) const;
  /// Applies the remaining steps to one batch of prepared images.
  at::Tensor apply_batch(const at::Tensor& batch, std::mt19937_64& rng) const;

  const std::vector<spec::TransformSpec>& steps() const { return steps_; }
  bool has_random_steps() const;
  /// One line, e.g. "random_crop(28, pad 2) → scale(0.00392) → normalize([0.286], [0.353])".
  std::string describe() const;

 private:
  std::vector<spec::TransformSpec> steps_;
  std::string key_path_;
  size_t prepared_prefix_ = 0;  ///< number of leading deterministic steps done by prepare()
};

/// Train pipeline from spec.train_transforms.
Pipeline make_train_pipeline(const spec::DataSpec& spec);
/// Val pipeline: spec.val_transforms when given, otherwise the train steps minus augmentations.
Pipeline make_val_pipeline(const spec::DataSpec& spec);

}  // namespace lossdoctor::data
