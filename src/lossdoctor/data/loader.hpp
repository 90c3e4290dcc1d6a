#pragma once
// Batches in a seeded order. Random access by (epoch, index) so that a resumed run sees exactly
// the batches an uninterrupted run would have seen.
//
// Contract:
//   requires: images already prepared by the split's Pipeline; batch_size ≥ 1.
//   ensures:  epoch order is a permutation derived only from (seed, epoch) when shuffle is on, the
//             identity otherwise; each sample appears once per epoch; the last partial batch is
//             kept unless it would hold a single sample while batch_size > 1 (batch norm cannot
//             train on one sample); batch(e, i) is a pure function of its arguments.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "lossdoctor/data/pipeline.hpp"

namespace lossdoctor::data {

struct Batch {
  at::Tensor images;   ///< float32 [B, C, H, W] after the pipeline
  at::Tensor labels;   ///< int64 [B]
  at::Tensor indices;  ///< int64 [B], positions in the split
};

class Loader {
 public:
  Loader(at::Tensor prepared_images, at::Tensor labels, Pipeline pipeline, int64_t batch_size,
         bool shuffle, uint64_t seed);

  int64_t size() const;
  int64_t batch_size() const { return batch_size_; }
  int64_t batches_per_epoch() const;
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  Batch batch(int64_t epoch, int64_t index) const;

 private:
  at::Tensor images_, labels_;
  Pipeline pipeline_;
  int64_t batch_size_;
  bool shuffle_;
  uint64_t seed_;
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<int64_t> cached_order_;
};

}  // namespace lossdoctor::data
