// Loader shards for data-parallel training: disjoint, covering, reshuffled every epoch, equal
// in size, the last batch handled as the single-process loader does; W = 1 is unchanged.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "lossdoctor/data/loader.hpp"

namespace lossdoctor::data::test {
namespace {

at::Tensor images(int64_t n) { return at::arange(n * 4, at::kFloat).view({n, 1, 2, 2}); }
at::Tensor labels(int64_t n) { return at::arange(n, at::kLong).remainder(10); }

/// Every index rank `rank` of `world` sees in `epoch`, through its batches.
std::vector<int64_t> batched(const Loader& loader, int64_t epoch) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < loader.batches_per_epoch(); ++i) {
    const auto b = loader.batch(epoch, i);
    for (int64_t k = 0; k < b.indices.size(0); ++k) out.push_back(b.indices[k].item<int64_t>());
  }
  return out;
}

TEST(LoaderShard, TwoRanksAreDisjointAndCoverTheEpoch) {
  Loader r0(images(100), labels(100), Pipeline(), 10, true, 7);
  Loader r1(images(100), labels(100), Pipeline(), 10, true, 7);
  r0.set_shard(0, 2);
  r1.set_shard(1, 2);
  ASSERT_EQ(r0.shard_size(), 50);
  ASSERT_EQ(r0.batches_per_epoch(), 5);
  ASSERT_EQ(r1.batches_per_epoch(), 5);
  for (int64_t epoch : {0, 1, 4}) {
    const auto a = batched(r0, epoch), b = batched(r1, epoch);
    std::set<int64_t> sa(a.begin(), a.end()), sb(b.begin(), b.end());
    EXPECT_EQ(sa.size(), 50u);
    EXPECT_EQ(sb.size(), 50u);
    for (int64_t i : sa) EXPECT_EQ(sb.count(i), 0u) << "index " << i << " on both ranks";
    std::set<int64_t> all(sa);
    all.insert(sb.begin(), sb.end());
    EXPECT_EQ(all.size(), 100u);
    // Rank r takes positions r, r+2, r+4… of the epoch's permutation (the same on both).
    const auto order = r0.epoch_order(epoch);
    for (size_t k = 0; k < a.size(); ++k) {
      EXPECT_EQ(a[k], order[2 * k]);
      EXPECT_EQ(b[k], order[2 * k + 1]);
    }
  }
  EXPECT_NE(batched(r0, 0), batched(r0, 1)) << "a new shuffle every epoch";
}

TEST(LoaderShard, UnevenSplitIsPaddedToEqualShards) {
  // 11 samples on 2 ranks: 6 each, one sample repeated (PyTorch's DistributedSampler pads too).
  Loader r0(images(11), labels(11), Pipeline(), 3, true, 1);
  Loader r1(images(11), labels(11), Pipeline(), 3, true, 1);
  r0.set_shard(0, 2);
  r1.set_shard(1, 2);
  EXPECT_EQ(r0.shard_size(), 6);
  EXPECT_EQ(r1.shard_size(), 6);
  EXPECT_EQ(r0.batches_per_epoch(), r1.batches_per_epoch());
  auto a = r0.shard_order(3), b = r1.shard_order(3);
  std::set<int64_t> all(a.begin(), a.end());
  all.insert(b.begin(), b.end());
  EXPECT_EQ(all.size(), 11u);
  EXPECT_EQ(b.back(), r0.epoch_order(3).front()) << "padded with the epoch's first sample";
}

TEST(LoaderShard, LastPartialBatchFollowsTheSingleProcessRule) {
  // 66 samples / 2 ranks = 33 per rank, batch 16: the one-sample tail is dropped, as for a
  // single process with 33 samples.
  Loader r1(images(66), labels(66), Pipeline(), 16, true, 0);
  r1.set_shard(1, 2);
  EXPECT_EQ(r1.batches_per_epoch(),
            Loader(images(33), labels(33), Pipeline(), 16, true, 0).batches_per_epoch());
  Loader r0(images(68), labels(68), Pipeline(), 16, true, 0);
  r0.set_shard(0, 2);
  EXPECT_EQ(r0.batches_per_epoch(), 3);  // 16 + 16 + 2
  EXPECT_EQ(r0.batch(0, 2).indices.size(0), 2);
}

TEST(LoaderShard, OneRankIsTheUnshardedLoader) {
  Loader plain(images(40), labels(40), Pipeline(), 16, true, 9);
  Loader one(images(40), labels(40), Pipeline(), 16, true, 9);
  one.set_shard(0, 1);
  EXPECT_EQ(one.shard_order(2), plain.epoch_order(2));
  for (int64_t i = 0; i < plain.batches_per_epoch(); ++i) {
    EXPECT_TRUE(at::equal(one.batch(2, i).indices, plain.batch(2, i).indices));
    EXPECT_TRUE(at::equal(one.batch(2, i).images, plain.batch(2, i).images));
  }
}

TEST(LoaderShard, RejectsBadShards) {
  Loader l(images(4), labels(4), Pipeline(), 2, true, 0);
  EXPECT_THROW(l.set_shard(2, 2), std::invalid_argument);
  EXPECT_THROW(l.set_shard(0, 5), std::invalid_argument);
  EXPECT_THROW(l.set_shard(-1, 2), std::invalid_argument);
}

}  // namespace
}  // namespace lossdoctor::data::test

namespace lossdoctor::data::test {
namespace {

TEST(LoaderShard, WithoutReshufflingEveryEpochRepeatsEpochZerosShard) {
  // data.inject.distributed.no_reshuffle: a sampler whose epoch is never advanced.
  Loader r1(images(100), labels(100), Pipeline(), 10, true, 7);
  r1.set_shard(1, 2);
  const auto first = batched(r1, 0);
  r1.set_reshuffle_every_epoch(false);
  EXPECT_EQ(batched(r1, 0), first);
  EXPECT_EQ(batched(r1, 3), first);
  r1.set_reshuffle_every_epoch(true);
  EXPECT_NE(batched(r1, 3), first);
}

}  // namespace
}  // namespace lossdoctor::data::test
