// Transform pipeline: steps, prepare/apply_batch split, check() errors, val pipeline.
#include "lossdoctor/data/pipeline.hpp"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "lossdoctor/util/errors.hpp"

namespace lossdoctor::data::test {
namespace {

using Kind = spec::TransformSpec::Kind;

spec::TransformSpec scale(double f) {
  spec::TransformSpec t;
  t.kind = Kind::Scale;
  t.factor = f;
  return t;
}
spec::TransformSpec normalize(std::vector<double> mean, std::vector<double> std) {
  spec::TransformSpec t;
  t.kind = Kind::Normalize;
  t.mean = std::move(mean);
  t.std = std::move(std);
  t.where = {"exp.yaml", 12, 9, ""};
  return t;
}
spec::TransformSpec resize(int64_t h, int64_t w) {
  spec::TransformSpec t;
  t.kind = Kind::Resize;
  t.height = h;
  t.width = w;
  return t;
}
spec::TransformSpec crop(int64_t size, int64_t padding) {
  spec::TransformSpec t;
  t.kind = Kind::RandomCrop;
  t.size = size;
  t.padding = padding;
  t.where = {"exp.yaml", 10, 5, ""};
  return t;
}
spec::TransformSpec flip() {
  spec::TransformSpec t;
  t.kind = Kind::RandomFlip;
  return t;
}

at::Tensor images(int64_t n, int64_t c, int64_t h, int64_t w) {
  return at::arange(n * c * h * w, at::kFloat).remainder(256).view({n, c, h, w});
}

TEST(Pipeline, ScaleAndNormalizePerChannel) {
  Pipeline p({scale(0.5), normalize({1, 2, 3}, {2, 4, 8})});
  auto x = images(2, 3, 2, 2);
  auto y = p.prepare(x);
  auto mean = at::tensor({1.0f, 2.0f, 3.0f}).view({1, 3, 1, 1});
  auto std = at::tensor({2.0f, 4.0f, 8.0f}).view({1, 3, 1, 1});
  EXPECT_TRUE(at::allclose(y, (x * 0.5 - mean) / std));
  Pipeline broadcast({normalize({10}, {5})});
  EXPECT_TRUE(at::allclose(broadcast.prepare(x), (x - 10) / 5));
  EXPECT_FALSE(p.has_random_steps());
  std::mt19937_64 rng(1);
  EXPECT_TRUE(at::equal(p.apply_batch(y, rng), y));  // everything ran in prepare
}

TEST(Pipeline, ResizeIsBilinearWithoutAlignCorners) {
  Pipeline p({resize(4, 6)});
  auto x = images(3, 1, 2, 3);
  auto y = p.prepare(x);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{3, 1, 4, 6}));
  EXPECT_TRUE(at::allclose(y, at::upsample_bilinear2d(x, {4, 6}, false)));
  // Constant image stays constant; 2× upsampling of [0, 1] gives [0, .25, .75, 1].
  auto row = at::tensor({0.0f, 1.0f}).view({1, 1, 1, 2});
  auto up = Pipeline({resize(1, 4)}).prepare(row);
  EXPECT_TRUE(at::allclose(up.flatten(), at::tensor({0.0f, 0.25f, 0.75f, 1.0f})));
  EXPECT_EQ(p.check({1, 2, 3}), (Shape3{1, 4, 6}));
}

TEST(Pipeline, RandomCropPadsWithZerosAndCropsPerSample) {
  Pipeline p({crop(4, 2)});
  auto x = images(64, 1, 4, 4) + 1;  // strictly positive: zeros can only come from padding
  std::mt19937_64 rng(3);
  auto y = p.apply_batch(p.prepare(x), rng);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{64, 1, 4, 4}));
  std::set<std::pair<int64_t, int64_t>> offsets;
  auto padded = at::constant_pad_nd(x, {2, 2, 2, 2}, 0);
  for (int64_t i = 0; i < 64; ++i) {
    bool found = false;
    for (int64_t top = 0; top <= 4 && !found; ++top)
      for (int64_t left = 0; left <= 4 && !found; ++left)
        if (at::equal(y[i], padded[i].narrow(1, top, 4).narrow(2, left, 4))) {
          found = true;
          offsets.insert({top, left});
        }
    EXPECT_TRUE(found) << "sample " << i << " is not a crop of its padded image";
  }
  EXPECT_GT(offsets.size(), 8u);  // offsets vary between samples
}

TEST(Pipeline, RandomFlipFlipsAboutHalfHorizontally) {
  Pipeline p({flip()});
  auto x = images(200, 2, 3, 5);
  std::mt19937_64 rng(11);
  auto y = p.apply_batch(x, rng);
  int flipped = 0;
  for (int64_t i = 0; i < 200; ++i) {
    if (at::equal(y[i], x[i].flip({2}))) {
      ++flipped;
    } else {
      EXPECT_TRUE(at::equal(y[i], x[i]));
    }
  }
  EXPECT_GT(flipped, 70);
  EXPECT_LT(flipped, 130);
}

TEST(Pipeline, PrepareThenBatchEqualsStepByStep) {
  std::vector<spec::TransformSpec> steps = {scale(1.0 / 255), normalize({0.3}, {0.4}), crop(5, 1),
                                            flip(), scale(2.0)};
  Pipeline whole(steps);
  auto x = images(16, 1, 6, 6);
  std::mt19937_64 rng_a(42), rng_b(42);
  auto y = whole.apply_batch(whole.prepare(x), rng_a);
  // One step at a time, each as its own pipeline, sharing the rng.
  at::Tensor z = x;
  for (const auto& s : steps) {
    Pipeline single({s});
    z = single.apply_batch(single.prepare(z), rng_b);
  }
  EXPECT_TRUE(at::equal(y, z));
  EXPECT_TRUE(whole.has_random_steps());
  // prepare() did only the deterministic prefix.
  EXPECT_TRUE(at::allclose(whole.prepare(x), (x / 255.0 - 0.3) / 0.4));
  std::mt19937_64 rng_c(42);
  EXPECT_TRUE(at::equal(whole.apply_batch(whole.prepare(x), rng_c), y));  // deterministic
}

TEST(Pipeline, CheckReportsLocationAndKeyPath) {
  Pipeline p({crop(40, 2)}, "data.transforms.train");
  try {
    p.check({1, 28, 28});
    FAIL() << "expected SpecError";
  } catch (const SpecError& e) {
    EXPECT_EQ(e.location(), "exp.yaml:10:5");
    EXPECT_EQ(e.key_path(), "data.transforms.train[0].random_crop");
    EXPECT_NE(e.message().find("crop 40x40 is larger than the padded image 32x32"),
              std::string::npos)
        << e.message();
  }
  Pipeline n({scale(1), normalize({0.1, 0.2}, {1})}, "data.transforms.val");
  try {
    n.check({3, 8, 8});
    FAIL() << "expected SpecError";
  } catch (const SpecError& e) {
    EXPECT_EQ(e.key_path(), "data.transforms.val[1].normalize");
    EXPECT_NE(e.message().find("mean has 2 values but the images have 3 channel(s)"),
              std::string::npos);
  }
  EXPECT_THROW(Pipeline({resize(0, 5)}).check({1, 8, 8}), SpecError);
  EXPECT_THROW(Pipeline({normalize({0}, {0})}).check({1, 8, 8}), SpecError);
  EXPECT_THROW(Pipeline({crop(4, 0)}).prepare(images(1, 1, 3, 3)), SpecError);
  EXPECT_EQ(Pipeline({resize(10, 12), crop(8, 0)}).check({3, 4, 4}), (Shape3{3, 8, 8}));
}

TEST(Pipeline, ValPipelineDropsAugmentationsUnlessGiven) {
  spec::DataSpec d;
  d.train_transforms = {crop(28, 2), flip(), scale(0.5), normalize({0.2}, {0.3})};
  auto val = make_val_pipeline(d);
  ASSERT_EQ(val.steps().size(), 2u);
  EXPECT_EQ(val.steps()[0].kind, Kind::Scale);
  EXPECT_EQ(val.steps()[1].kind, Kind::Normalize);
  EXPECT_FALSE(val.has_random_steps());
  EXPECT_EQ(make_train_pipeline(d).steps().size(), 4u);
  d.val_transforms = {scale(3)};
  d.val_transforms_given = true;
  val = make_val_pipeline(d);
  ASSERT_EQ(val.steps().size(), 1u);
  EXPECT_EQ(val.steps()[0].factor, 3);
  d.val_transforms.clear();  // given but empty: raw pixel values
  EXPECT_TRUE(make_val_pipeline(d).steps().empty());
}

TEST(Pipeline, DescribeIsOneLine) {
  Pipeline p({crop(28, 2), flip(), scale(0.00392156862745098), normalize({0.286}, {0.353})});
  EXPECT_EQ(p.describe(),
            "random_crop(28, pad 2) → random_flip(horizontal) → scale(0.00392) → "
            "normalize([0.286], [0.353])");
  EXPECT_EQ(Pipeline().describe(), "none (raw pixel values)");
}

}  // namespace
}  // namespace lossdoctor::data::test
