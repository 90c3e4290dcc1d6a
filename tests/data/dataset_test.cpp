// limit, exclude, inject, sort_by_label, determinism, and the real Fashion-MNIST.
#include "lossdoctor/data/dataset.hpp"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>

#include "data/data_test_util.hpp"

namespace lossdoctor::data::test {
namespace {

/// 200 samples of 4×4, labels imbalanced: class c has 10 + 5c... (classes 0..4 only).
std::vector<uint8_t> imbalanced_labels(int64_t n) {
  std::vector<uint8_t> labels;
  for (int64_t i = 0; i < n; ++i) labels.push_back(static_cast<uint8_t>(i % 10 < 5 ? 0 : i % 5));
  return labels;  // class 0: 60%, classes 1..4: 10% each
}

TEST(Limit, IsStratifiedDeterministicAndKeepsOrder) {
  TempDir dir;
  auto files = write_idx(dir, 200, 4, 4, true, imbalanced_labels(200));
  auto s = idx_spec(dir, files);
  s.train.limit = 50;
  auto a = load_dataset(s, 1);
  ASSERT_EQ(a.train.size(), 50);
  EXPECT_EQ(a.train.labels.eq(0).sum().item<int64_t>(), 30);
  for (int c = 1; c < 5; ++c) EXPECT_EQ(a.train.labels.eq(c).sum().item<int64_t>(), 5);
  EXPECT_TRUE(std::is_sorted(a.train.source_index.begin(), a.train.source_index.end()));
  // Images travel with their labels.
  for (int64_t k = 0; k < 50; ++k) {
    const int64_t src = a.train.source_index[k];
    EXPECT_EQ(a.train.images[k][0][1][2].item<float>(), pattern(src, 1, 2));
  }
  auto b = load_dataset(s, 1);
  EXPECT_TRUE(at::equal(a.train.images, b.train.images));
  EXPECT_EQ(a.train.source_index, b.train.source_index);
  auto c = load_dataset(s, 2);
  EXPECT_NE(a.train.source_index, c.train.source_index);
}

TEST(Limit, LargestRemainderAndTooLarge) {
  TempDir dir;
  auto files = write_idx(dir, 30, 2, 2, false);  // labels 0..9, 3 each
  auto s = idx_spec(dir, files);
  s.train.limit = 15;  // 1.5 per class: five classes get 2 (lowest ids on ties), five get 1
  auto ds = load_dataset(s, 0);
  ASSERT_EQ(ds.train.size(), 15);
  for (int c = 0; c < 10; ++c) {
    EXPECT_EQ(ds.train.labels.eq(c).sum().item<int64_t>(), c < 5 ? 2 : 1) << "class " << c;
  }
  s.train.limit = 30;
  EXPECT_EQ(load_dataset(s, 0).train.size(), 30);
  s.train.limit = 31;
  expect_data_error(
      [&] { load_dataset(s, 0); },
      {dir.file(files.images), "data.train.limit 31 is larger than the split (30 samples)"});
}

TEST(Exclude, DropsSourceIndices) {
  TempDir dir;
  auto files = write_idx(dir, 20, 2, 2, false);
  std::ofstream(dir.file("drop.txt")) << "# flagged by audit\n3\n  7 \n\n19\n3\n";
  auto s = idx_spec(dir, files);
  s.train.exclude = "drop.txt";
  auto ds = load_dataset(s, 0);
  ASSERT_EQ(ds.train.size(), 17);
  for (int64_t dropped : {3, 7, 19}) {
    EXPECT_EQ(std::count(ds.train.source_index.begin(), ds.train.source_index.end(), dropped), 0);
  }
  EXPECT_EQ(ds.train.images[3][0][0][0].item<float>(), pattern(4, 0, 0));
}

/// The source indices of `positions` in `split`.
std::set<int64_t> sources_of(const Split& split, const std::vector<int64_t>& positions) {
  std::set<int64_t> out;
  for (int64_t p : positions) out.insert(split.source_index[p]);
  return out;
}

// Retraining on a cleaned set is only a fair experiment if excluding samples changes nothing
// else: the limit subset, the noisy labels and the corrupted images are drawn on the split as read
// and the exclusion is applied afterwards.
TEST(Exclude, KeepsTheLimitSubsetAndTheInjectedFaultsOfTheOtherSamples) {
  TempDir dir;
  auto files = write_idx(dir, 400, 3, 3, true);
  auto s = idx_spec(dir, files);
  s.train.limit = 200;
  s.inject.label_noise = 0.3;
  s.inject.corrupt = 0.1;
  s.inject.corrupt_kind = spec::InjectSpec::CorruptKind::Saturate;
  const auto noisy = load_dataset(s, 4);
  ASSERT_EQ(noisy.train.size(), 200);
  // Drop every other noisy sample, a few clean ones, and records outside the limit subset.
  const std::set<int64_t> subset(noisy.train.source_index.begin(), noisy.train.source_index.end());
  std::set<int64_t> drop;
  for (size_t k = 0; k < noisy.injected.label_noise.size(); k += 2) {
    drop.insert(noisy.train.source_index[noisy.injected.label_noise[k]]);
  }
  for (int64_t p : {0, 1, 2}) drop.insert(noisy.train.source_index[p]);
  int64_t outside = 0;
  for (int64_t r = 0; r < 400 && outside < 5; ++r) {
    if (subset.count(r) == 0) {
      drop.insert(r);
      ++outside;
    }
  }
  {
    std::ofstream out(dir.file("drop.txt"));
    for (int64_t r : drop) out << r << "\n";
  }
  s.train.exclude = "drop.txt";
  const auto cleaned = load_dataset(s, 4);

  std::map<int64_t, int64_t> noisy_pos;
  for (int64_t p = 0; p < noisy.train.size(); ++p) noisy_pos[noisy.train.source_index[p]] = p;
  int64_t expected = 0;
  for (int64_t r : subset) expected += drop.count(r) == 0 ? 1 : 0;
  ASSERT_EQ(cleaned.train.size(), expected);
  for (int64_t p = 0; p < cleaned.train.size(); ++p) {
    const int64_t r = cleaned.train.source_index[p];
    ASSERT_EQ(drop.count(r), 0u) << r;
    ASSERT_EQ(noisy_pos.count(r), 1u) << "record " << r << " is not in the noisy run's subset";
    EXPECT_EQ(cleaned.train.labels[p].item<int64_t>(),
              noisy.train.labels[noisy_pos[r]].item<int64_t>())
        << "record " << r;
    EXPECT_TRUE(at::equal(cleaned.train.images[p], noisy.train.images[noisy_pos[r]])) << r;
  }
  // Injected positions are renumbered: the same records, minus the excluded ones.
  std::set<int64_t> still_noisy;
  for (int64_t r : sources_of(noisy.train, noisy.injected.label_noise)) {
    if (drop.count(r) == 0) still_noisy.insert(r);
  }
  EXPECT_EQ(sources_of(cleaned.train, cleaned.injected.label_noise), still_noisy);
  std::set<int64_t> still_corrupt;
  for (int64_t r : sources_of(noisy.train, noisy.injected.corrupt)) {
    if (drop.count(r) == 0) still_corrupt.insert(r);
  }
  EXPECT_EQ(sources_of(cleaned.train, cleaned.injected.corrupt), still_corrupt);
  for (int64_t p : cleaned.injected.corrupt) {
    EXPECT_EQ(cleaned.train.images[p].min().item<float>(), 255.0f);
  }
}

TEST(Exclude, KeepsACarvedValidationSetAndSortsAfterwards) {
  TempDir dir;
  auto files = write_idx(dir, 100, 2, 2, false);
  auto s = idx_spec(dir, files);
  s.split = 0.2;
  const auto plain = load_dataset(s, 2);
  std::ofstream(dir.file("drop.txt")) << plain.train.source_index[0] << "\n"
                                      << plain.train.source_index[5] << "\n";
  s.inject.sort_by_label = true;
  s.inject.label_noise = 0.2;
  const auto noisy = load_dataset(s, 2);
  s.train.exclude = "drop.txt";
  const auto ds = load_dataset(s, 2);
  EXPECT_EQ(ds.val.source_index, plain.val.source_index);
  EXPECT_EQ(ds.train.size(), plain.train.size() - 2);
  const auto labels = ds.train.labels;
  EXPECT_TRUE(at::equal(labels, std::get<0>(labels.sort(/*stable=*/true, 0, false))));
  auto still_noisy = sources_of(noisy.train, noisy.injected.label_noise);
  still_noisy.erase(plain.train.source_index[0]);
  still_noisy.erase(plain.train.source_index[5]);
  EXPECT_EQ(sources_of(ds.train, ds.injected.label_noise), still_noisy);
  EXPECT_TRUE(std::is_sorted(ds.injected.label_noise.begin(), ds.injected.label_noise.end()));
}

TEST(Exclude, BadLinesAndRange) {
  TempDir dir;
  auto files = write_idx(dir, 20, 2, 2, false);
  auto s = idx_spec(dir, files);
  s.train.exclude = "drop.txt";
  std::ofstream(dir.file("drop.txt")) << "1\nfive\n";
  expect_data_error([&] { load_dataset(s, 0); },
                    {dir.file("drop.txt") + ":2", "not a sample index: 'five'"});
  std::ofstream(dir.file("drop.txt")) << "20\n";
  expect_data_error([&] { load_dataset(s, 0); },
                    {dir.file("drop.txt") + ":1", "sample index 20 out of range"});
  s.train.exclude = "absent.txt";
  expect_data_error([&] { load_dataset(s, 0); }, {dir.file("absent.txt"), "not found"});
  // A directory is not an exclude file (it used to exclude nothing, silently).
  fs::create_directories(dir.file("a-folder"));
  s.train.exclude = "a-folder";
  expect_data_error([&] { load_dataset(s, 0); }, {dir.file("a-folder"), "is a directory"});
  // Excluding everything names the exclude file instead of failing later on an empty split.
  {
    std::ofstream all(dir.file("all.txt"));
    for (int i = 0; i < 20; ++i) all << i << "\n";
  }
  s.train.exclude = "all.txt";
  expect_data_error([&] { load_dataset(s, 0); },
                    {dir.file("all.txt"), "excludes all 20 training samples"});
}

TEST(Inject, DropClassesThatDoNotExistIsAnError) {
  TempDir dir;
  auto files = write_idx(dir, 30, 2, 2, false);
  auto s = idx_spec(dir, files);
  s.inject.drop_classes = {1, 42};
  s.inject.drop_fraction = 0.5;
  spec::Location at;
  at.file = "s.yaml";
  at.line = 7;
  at.column = 38;
  s.inject.drop_classes_where = {at, at};
  try {
    load_dataset(s, 0);
    ADD_FAILURE() << "expected a SpecError";
  } catch (const SpecError& e) {
    // A spec error, located where the class is written, like every other spec error.
    const std::string what = e.what();
    EXPECT_EQ(e.location(), "s.yaml:7:38");
    EXPECT_EQ(e.key_path(), "data.inject.drop_classes.classes[1]");
    EXPECT_NE(what.find("class 42 does not exist: the data has 10 classes"), std::string::npos)
        << what;
  }
}

TEST(Inject, LabelNoiseChangesExactlyTheRecordedLabels) {
  TempDir dir;
  auto files = write_idx(dir, 300, 3, 3, true);
  auto s = idx_spec(dir, files);
  auto clean = load_dataset(s, 5);
  s.inject.label_noise = 0.2;
  auto noisy = load_dataset(s, 5);
  ASSERT_EQ(noisy.injected.label_noise.size(), 60u);
  EXPECT_TRUE(noisy.injected.corrupt.empty());
  std::set<int64_t> flipped(noisy.injected.label_noise.begin(), noisy.injected.label_noise.end());
  EXPECT_EQ(flipped.size(), 60u);
  const auto changed = noisy.train.labels.ne(clean.train.labels);
  EXPECT_EQ(changed.sum().item<int64_t>(), 60);  // always a different class
  for (int64_t i : flipped) EXPECT_TRUE(changed[i].item<bool>());
  EXPECT_GE(noisy.train.labels.min().item<int64_t>(), 0);
  EXPECT_LT(noisy.train.labels.max().item<int64_t>(), 10);
  EXPECT_TRUE(at::equal(noisy.train.images, clean.train.images));
  auto again = load_dataset(s, 5);
  EXPECT_TRUE(at::equal(again.train.labels, noisy.train.labels));
  EXPECT_EQ(again.injected.label_noise, noisy.injected.label_noise);
  EXPECT_NE(load_dataset(s, 6).injected.label_noise, noisy.injected.label_noise);
}

TEST(Inject, CorruptKinds) {
  TempDir dir;
  auto files = write_idx(dir, 100, 4, 4, false);
  auto s = idx_spec(dir, files);
  auto clean = load_dataset(s, 0);
  using K = spec::InjectSpec::CorruptKind;
  for (K kind : {K::Zeros, K::Noise, K::NaN, K::Saturate}) {
    s.inject.corrupt = 0.1;
    s.inject.corrupt_kind = kind;
    auto ds = load_dataset(s, 3);
    ASSERT_EQ(ds.injected.corrupt.size(), 10u);
    std::set<int64_t> hit(ds.injected.corrupt.begin(), ds.injected.corrupt.end());
    for (int64_t i = 0; i < 100; ++i) {
      const auto img = ds.train.images[i];
      if (!hit.count(i)) {
        EXPECT_TRUE(at::equal(img, clean.train.images[i])) << i;
        continue;
      }
      switch (kind) {
        case K::Zeros:
          EXPECT_EQ(img.abs().max().item<float>(), 0.0f);
          break;
        case K::Saturate:
          EXPECT_EQ(img.min().item<float>(), 255.0f);
          break;
        case K::NaN:
          EXPECT_TRUE(img.isnan().all().item<bool>());
          break;
        case K::Noise:
          EXPECT_GE(img.min().item<float>(), 0.0f);
          EXPECT_LE(img.max().item<float>(), 255.0f);
          EXPECT_TRUE(at::equal(img, img.round()));
          EXPECT_FALSE(at::equal(img, clean.train.images[i]));
          break;
      }
    }
    auto again = load_dataset(s, 3);
    EXPECT_TRUE(at::equal(again.train.images.nan_to_num(-1), ds.train.images.nan_to_num(-1)));
  }
}

TEST(Inject, OnlyTrainIsTouched) {
  TempDir dir;
  auto train = write_idx(dir, 50, 2, 2, false);
  auto val = write_idx(dir, 20, 2, 2, false, {}, "val");
  auto s = idx_spec(dir, train);
  s.val.images = val.images;
  s.val.labels = val.labels;
  s.val.present = true;
  auto clean = load_dataset(s, 0);
  s.inject.label_noise = 0.5;
  s.inject.corrupt = 0.5;
  s.inject.sort_by_label = true;
  auto ds = load_dataset(s, 0);
  EXPECT_TRUE(at::equal(ds.val.images, clean.val.images));
  EXPECT_TRUE(at::equal(ds.val.labels, clean.val.labels));
}

TEST(Inject, SortByLabelMapsInjectedIndices) {
  TempDir dir;
  auto files = write_idx(dir, 120, 3, 3, false);
  auto s = idx_spec(dir, files);
  s.inject.label_noise = 0.25;
  s.inject.corrupt = 0.1;
  s.inject.corrupt_kind = spec::InjectSpec::CorruptKind::Saturate;
  auto unsorted = load_dataset(s, 9);
  s.inject.sort_by_label = true;
  auto sorted = load_dataset(s, 9);
  const auto labels = sorted.train.labels;
  EXPECT_TRUE(at::equal(labels, std::get<0>(labels.sort(/*stable=*/true, 0, false))));
  // Stable: within a label, source order is preserved.
  for (int64_t i = 1; i < 120; ++i) {
    if (labels[i].item<int64_t>() == labels[i - 1].item<int64_t>()) {
      EXPECT_LT(sorted.train.source_index[i - 1], sorted.train.source_index[i]);
    }
  }
  // Injected positions point at the same samples after sorting.
  auto sources = [](const Dataset& d, const std::vector<int64_t>& pos) {
    std::set<int64_t> out;
    for (int64_t p : pos) out.insert(d.train.source_index[p]);
    return out;
  };
  EXPECT_EQ(sources(sorted, sorted.injected.label_noise),
            sources(unsorted, unsorted.injected.label_noise));
  EXPECT_EQ(sources(sorted, sorted.injected.corrupt), sources(unsorted, unsorted.injected.corrupt));
  for (int64_t p : sorted.injected.corrupt) {
    EXPECT_EQ(sorted.train.images[p].min().item<float>(), 255.0f);
  }
  EXPECT_TRUE(std::is_sorted(sorted.injected.corrupt.begin(), sorted.injected.corrupt.end()));
}

const char* kFashion = "/usr/share/datasets/fashion-mnist";

spec::DataSpec fashion_spec() {
  spec::DataSpec s;
  s.path = kFashion;
  s.train = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", {}, "", 1000, "", true};
  s.val = {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", {}, "", 500, "", true};
  return s;
}

TEST(FashionMnist, LimitedLoadHasExpectedShapesAndRange) {
  if (!fs::exists(std::string(kFashion) + "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST not installed (dataset-fashion-mnist)";
  }
  auto ds = load_dataset(fashion_spec(), 0);
  EXPECT_EQ(ds.train.images.sizes(), (std::vector<int64_t>{1000, 1, 28, 28}));
  EXPECT_EQ(ds.val.images.sizes(), (std::vector<int64_t>{500, 1, 28, 28}));
  EXPECT_EQ(ds.train.images.min().item<float>(), 0.0f);
  EXPECT_EQ(ds.train.images.max().item<float>(), 255.0f);
  const double mean = ds.train.images.mean().item<double>() / 255.0;
  EXPECT_NEAR(mean, 0.286, 0.02);  // the well-known Fashion-MNIST pixel mean
  for (int c = 0; c < 10; ++c) EXPECT_EQ(ds.train.labels.eq(c).sum().item<int64_t>(), 100);
}

TEST(FashionMnist, FullTrainSetLoadsQuickly) {
  if (!fs::exists(std::string(kFashion) + "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST not installed (dataset-fashion-mnist)";
  }
  auto s = fashion_spec();
  s.train.limit.reset();
  s.val.present = false;
  const auto t0 = std::chrono::steady_clock::now();
  auto ds = load_dataset(s, 0);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(ds.train.size(), 60000);
  RecordProperty("load_seconds", std::to_string(seconds));
  std::printf("[ info ] 60k Fashion-MNIST train set loaded in %.3f s\n", seconds);
  EXPECT_LT(seconds, 3.0);
}

}  // namespace
}  // namespace lossdoctor::data::test
