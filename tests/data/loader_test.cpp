// Loader: epoch order, batch boundaries, purity.
#include "lossdoctor/data/loader.hpp"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <numeric>

namespace lossdoctor::data::test {
namespace {

at::Tensor images(int64_t n) { return at::arange(n * 4, at::kFloat).view({n, 1, 2, 2}); }
at::Tensor labels(int64_t n) { return at::arange(n, at::kLong).remainder(10); }

spec::TransformSpec flip() {
  spec::TransformSpec t;
  t.kind = spec::TransformSpec::Kind::RandomFlip;
  return t;
}

TEST(Loader, ShuffledOrderIsAPermutationThatChangesPerEpoch) {
  Loader loader(images(100), labels(100), Pipeline(), 16, /*shuffle=*/true, 7);
  auto o0 = loader.epoch_order(0), o1 = loader.epoch_order(1);
  auto sorted = o0;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> ident(100);
  std::iota(ident.begin(), ident.end(), 0);
  EXPECT_EQ(sorted, ident);
  EXPECT_NE(o0, ident);
  EXPECT_NE(o0, o1);
  EXPECT_EQ(loader.epoch_order(0), o0);
  Loader same(images(100), labels(100), Pipeline(), 16, true, 7);
  EXPECT_EQ(same.epoch_order(1), o1);
  Loader other_seed(images(100), labels(100), Pipeline(), 16, true, 8);
  EXPECT_NE(other_seed.epoch_order(0), o0);
}

TEST(Loader, BatchesCoverEverySampleOnce) {
  Loader loader(images(100), labels(100), Pipeline(), 16, true, 3);
  ASSERT_EQ(loader.batches_per_epoch(), 7);  // 6 × 16 + 4
  std::vector<int64_t> seen;
  for (int64_t i = 0; i < loader.batches_per_epoch(); ++i) {
    auto b = loader.batch(2, i);
    EXPECT_EQ(b.images.size(0), i < 6 ? 16 : 4);
    EXPECT_EQ(b.labels.size(0), b.images.size(0));
    for (int64_t k = 0; k < b.indices.size(0); ++k) {
      const int64_t idx = b.indices[k].item<int64_t>();
      seen.push_back(idx);
      EXPECT_EQ(b.labels[k].item<int64_t>(), idx % 10);
      EXPECT_EQ(b.images[k][0][0][0].item<float>(), 4.0f * idx);
    }
  }
  std::sort(seen.begin(), seen.end());
  for (int64_t i = 0; i < 100; ++i) ASSERT_EQ(seen[i], i);
  EXPECT_THROW(loader.batch(2, 7), std::out_of_range);
}

TEST(Loader, IdentityWithoutShuffle) {
  Loader loader(images(10), labels(10), Pipeline(), 4, /*shuffle=*/false, 99);
  for (int64_t e : {0, 5}) {
    auto o = loader.epoch_order(e);
    for (int64_t i = 0; i < 10; ++i) EXPECT_EQ(o[i], i);
  }
  EXPECT_TRUE(at::equal(loader.batch(3, 1).indices, at::tensor({4, 5, 6, 7}, at::kLong)));
}

TEST(Loader, SingleSampleTailIsDropped) {
  EXPECT_EQ(Loader(images(33), labels(33), Pipeline(), 16, true, 0).batches_per_epoch(), 2);
  EXPECT_EQ(Loader(images(34), labels(34), Pipeline(), 16, true, 0).batches_per_epoch(), 3);
  EXPECT_EQ(Loader(images(32), labels(32), Pipeline(), 16, true, 0).batches_per_epoch(), 2);
  EXPECT_EQ(Loader(images(3), labels(3), Pipeline(), 1, true, 0).batches_per_epoch(), 3);
  EXPECT_THROW(Loader(images(3), labels(3), Pipeline(), 0, true, 0), std::invalid_argument);
  EXPECT_THROW(Loader(images(3), labels(4), Pipeline(), 2, true, 0), std::invalid_argument);
}

TEST(Loader, BatchIsPureFunctionOfEpochAndIndex) {
  Loader loader(images(64), labels(64), Pipeline({flip()}), 8, true, 5);
  auto a = loader.batch(1, 3);
  loader.batch(0, 0);  // touch another epoch in between
  loader.batch(4, 7);
  auto b = loader.batch(1, 3);
  EXPECT_TRUE(at::equal(a.images, b.images));
  EXPECT_TRUE(at::equal(a.indices, b.indices));
  Loader fresh(images(64), labels(64), Pipeline({flip()}), 8, true, 5);
  EXPECT_TRUE(at::equal(fresh.batch(1, 3).images, a.images));
  // The augmentation really is random across batches: some samples flipped, some not.
  int flipped = 0, total = 0;
  for (int64_t i = 0; i < 8; ++i) {
    auto bt = loader.batch(1, i);
    for (int64_t k = 0; k < 8; ++k, ++total) {
      const int64_t idx = bt.indices[k].item<int64_t>();
      if (!at::equal(bt.images[k], images(64)[idx])) ++flipped;
    }
  }
  EXPECT_GT(flipped, 10);
  EXPECT_LT(flipped, total - 10);
}

}  // namespace
}  // namespace lossdoctor::data::test
