#include "lossdoctor/data/loader.hpp"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <numeric>
#include <stdexcept>

#include "lossdoctor/data/rng.hpp"

namespace lossdoctor::data {

Loader::Loader(at::Tensor prepared_images, at::Tensor labels, Pipeline pipeline, int64_t batch_size,
               bool shuffle, uint64_t seed)
    : images_(std::move(prepared_images)),
      labels_(std::move(labels)),
      pipeline_(std::move(pipeline)),
      batch_size_(batch_size),
      shuffle_(shuffle),
      seed_(seed) {
  if (batch_size_ < 1) {
    throw std::invalid_argument(fmt::format("Loader: batch_size must be ≥ 1, got {}", batch_size_));
  }
  if (!images_.defined() || !labels_.defined() || images_.dim() != 4 || labels_.dim() != 1 ||
      images_.size(0) != labels_.size(0)) {
    throw std::invalid_argument(
        "Loader: images must be [N, C, H, W] and labels [N] with the same N");
  }
}

int64_t Loader::size() const { return labels_.size(0); }

void Loader::set_shard(int64_t rank, int64_t world_size) {
  if (world_size < 1 || rank < 0 || rank >= world_size || world_size > size()) {
    throw std::invalid_argument(fmt::format(
        "Loader::set_shard: rank {} of {} is not valid for {} samples", rank, world_size, size()));
  }
  rank_ = rank;
  world_size_ = world_size;
  cached_epoch_ = -1;
}

int64_t Loader::shard_size() const { return (size() + world_size_ - 1) / world_size_; }

std::vector<int64_t> Loader::shard_order(int64_t epoch) const {
  std::vector<int64_t> order = epoch_order(epoch);
  if (world_size_ == 1) return order;
  const int64_t n = size(), padded = shard_size() * world_size_;
  std::vector<int64_t> mine;
  mine.reserve(static_cast<size_t>(shard_size()));
  for (int64_t pos = rank_; pos < padded; pos += world_size_) {
    mine.push_back(order[static_cast<size_t>(pos % n)]);
  }
  return mine;
}

int64_t Loader::batches_per_epoch() const { return batches_per_epoch_for(size()); }

int64_t Loader::batches_per_epoch_for(int64_t split_size) const {
  const int64_t n = (split_size + world_size_ - 1) / world_size_;
  const int64_t full = n / batch_size_;
  const int64_t rest = n % batch_size_;
  // A trailing batch of one sample is dropped when batch_size > 1 (batch norm needs two).
  return full + ((rest > 1 || (rest == 1 && batch_size_ == 1)) ? 1 : 0);
}

std::vector<int64_t> Loader::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(size()));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (shuffle_) {
    std::mt19937_64 rng(detail::mix_seed(seed_, detail::kTagEpochOrder,
                                         static_cast<uint64_t>(reshuffle_ ? epoch : 0)));
    detail::shuffle_in_place(order, rng);
  }
  return order;
}

Batch Loader::batch(int64_t epoch, int64_t index) const {
  if (index < 0 || index >= batches_per_epoch()) {
    throw std::out_of_range(
        fmt::format("Loader::batch: index {} out of range [0, {})", index, batches_per_epoch()));
  }
  if (cached_epoch_ != epoch) {
    cached_order_ = shard_order(epoch);
    cached_epoch_ = epoch;
  }
  const int64_t begin = index * batch_size_;
  const int64_t end = std::min(shard_size(), begin + batch_size_);
  std::vector<int64_t> picks(cached_order_.begin() + begin, cached_order_.begin() + end);
  Batch b;
  b.indices = at::tensor(at::ArrayRef<int64_t>(picks), at::kLong);
  b.labels = labels_.index_select(0, b.indices);
  // Each rank's batches get their own augmentation draws (index * W + rank; W = 1: index).
  std::mt19937_64 rng(detail::mix_seed(seed_, detail::kTagBatch, static_cast<uint64_t>(epoch),
                                       static_cast<uint64_t>(index * world_size_ + rank_)));
  b.images = pipeline_.apply_batch(images_.index_select(0, b.indices), rng);
  return b;
}

}  // namespace lossdoctor::data
