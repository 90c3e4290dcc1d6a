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
//   shards:   set_shard(r, W) makes this loader one rank's of W (data-parallel training): the
//             epoch's order (the same permutation on every rank) is padded with its own first
//             elements to a multiple of W, as PyTorch's DistributedSampler does, and rank r takes
//             positions r, r+W, r+2W… So shards are disjoint (but for the ≤ W-1 padded repeats),
//             together cover the epoch, and have equal sizes, so every rank takes the same number
//             of steps; the last partial batch of a shard follows the rule above. W = 1 is the
//             unsharded loader exactly.

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

  /// Samples in the split (all ranks together).
  int64_t size() const;
  int64_t batch_size() const { return batch_size_; }
  /// Batches of this loader's shard per epoch.
  int64_t batches_per_epoch() const;
  /// The batches per epoch of this loader's shard (its batch size and shard layout) if the split
  /// held `split_size` samples: how long an epoch of the run a changed split stands in for is.
  int64_t batches_per_epoch_for(int64_t split_size) const;
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  /// Makes this loader rank `rank` of `world_size` (see "shards" above). Requires
  /// 0 ≤ rank < world_size ≤ size().
  void set_shard(int64_t rank, int64_t world_size);
  /// Fault injection (data.inject.distributed.no_reshuffle): every epoch takes epoch 0's
  /// order, as a distributed sampler whose epoch is never advanced does.
  void set_reshuffle_every_epoch(bool reshuffle) {
    reshuffle_ = reshuffle;
    cached_epoch_ = -1;
  }
  int64_t shard_rank() const { return rank_; }
  int64_t shard_count() const { return world_size_; }
  /// Samples in this loader's shard per epoch (size() when unsharded).
  int64_t shard_size() const;
  /// This shard's positions of the epoch (epoch_order(epoch) when unsharded).
  std::vector<int64_t> shard_order(int64_t epoch) const;
  Batch batch(int64_t epoch, int64_t index) const;

 private:
  at::Tensor images_, labels_;
  Pipeline pipeline_;
  int64_t batch_size_;
  bool shuffle_;
  uint64_t seed_;
  int64_t rank_ = 0, world_size_ = 1;
  bool reshuffle_ = true;
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<int64_t> cached_order_;
};

}  // namespace lossdoctor::data
