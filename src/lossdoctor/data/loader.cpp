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

int64_t Loader::batches_per_epoch() const {
  const int64_t n = size();
  const int64_t full = n / batch_size_;
  const int64_t rest = n % batch_size_;
  // A trailing batch of one sample is dropped when batch_size > 1 (batch norm needs two).
  return full + ((rest > 1 || (rest == 1 && batch_size_ == 1)) ? 1 : 0);
}

std::vector<int64_t> Loader::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(size()));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (shuffle_) {
    std::mt19937_64 rng(
        detail::mix_seed(seed_, detail::kTagEpochOrder, static_cast<uint64_t>(epoch)));
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
    cached_order_ = epoch_order(epoch);
    cached_epoch_ = epoch;
  }
  const int64_t begin = index * batch_size_;
  const int64_t end = std::min(size(), begin + batch_size_);
  std::vector<int64_t> picks(cached_order_.begin() + begin, cached_order_.begin() + end);
  Batch b;
  b.indices = at::tensor(at::ArrayRef<int64_t>(picks), at::kLong);
  b.labels = labels_.index_select(0, b.indices);
  std::mt19937_64 rng(detail::mix_seed(seed_, detail::kTagBatch, static_cast<uint64_t>(epoch),
                                       static_cast<uint64_t>(index)));
  b.images = pipeline_.apply_batch(images_.index_select(0, b.indices), rng);
  return b;
}

}  // namespace lossdoctor::data
