// IDX reading: raw and gzip, values, and every bad-file error.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "data/data_test_util.hpp"
#include "lossdoctor/data/dataset.hpp"

namespace lossdoctor::data::test {
namespace {

void expect_pattern(const Split& s, int64_t n, int64_t h, int64_t w) {
  ASSERT_EQ(s.images.sizes(), (std::vector<int64_t>{n, 1, h, w}));
  EXPECT_EQ(s.images.scalar_type(), at::kFloat);
  EXPECT_EQ(s.labels.scalar_type(), at::kLong);
  auto img = s.images.accessor<float, 4>();
  auto lab = s.labels.accessor<int64_t, 1>();
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(lab[i], i % 10);
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) ASSERT_EQ(img[i][0][y][x], pattern(i, y, x));
  }
  ASSERT_EQ(s.source_index.size(), static_cast<size_t>(n));
  EXPECT_EQ(s.source_index.back(), n - 1);
}

TEST(IdxReader, ReadsRawFileValues) {
  TempDir dir;
  auto files = write_idx(dir, 23, 5, 4, /*gz=*/false);
  auto ds = load_dataset(idx_spec(dir, files), 0);
  expect_pattern(ds.train, 23, 5, 4);
  EXPECT_EQ(ds.num_classes, 10);
  EXPECT_EQ(ds.class_names.front(), "0");
  EXPECT_EQ(ds.val.size(), 0);
  EXPECT_TRUE(ds.train.source_paths.empty());
}

TEST(IdxReader, ReadsGzipFileValues) {
  TempDir dir;
  auto files = write_idx(dir, 40, 3, 7, /*gz=*/true);
  auto ds = load_dataset(idx_spec(dir, files), 0);
  expect_pattern(ds.train, 40, 3, 7);
}

TEST(IdxReader, ReadsValSplitFromItsOwnFiles) {
  TempDir dir;
  auto train = write_idx(dir, 20, 4, 4, true);
  auto val = write_idx(dir, 12, 4, 4, false, {}, "val");
  auto s = idx_spec(dir, train);
  s.val.images = val.images;
  s.val.labels = val.labels;
  s.val.present = true;
  auto ds = load_dataset(s, 0);
  expect_pattern(ds.val, 12, 4, 4);
}

TEST(IdxReader, MissingFileNamesPath) {
  TempDir dir;
  auto files = write_idx(dir, 4, 2, 2, false);
  auto s = idx_spec(dir, files);
  s.train.images = "nope.gz";
  expect_data_error([&] { load_dataset(s, 0); }, {dir.file("nope.gz"), "file not found"});
}

TEST(IdxReader, WrongMagicNamesBothValues) {
  TempDir dir;
  auto files = write_idx(dir, 4, 2, 2, false);
  auto s = idx_spec(dir, files);
  s.train.images = files.labels;  // a label file where images are expected
  expect_data_error(
      [&] { load_dataset(s, 0); },
      {dir.file(files.labels), "wrong magic 0x00000801 (expected 0x00000803, an IDX image file)"});
  s = idx_spec(dir, files);
  s.train.labels = files.images;
  expect_data_error(
      [&] { load_dataset(s, 0); },
      {dir.file(files.images), "wrong magic 0x00000803 (expected 0x00000801, an IDX label file)"});
}

TEST(IdxReader, TruncatedPixelData) {
  for (bool gz : {false, true}) {
    TempDir dir;
    auto files = write_idx(dir, 4, 3, 3, gz);
    write_bytes(dir.file(files.images), idx_images(4, 3, 3, std::vector<uint8_t>(30, 1)), gz);
    expect_data_error(
        [&] { load_dataset(idx_spec(dir, files), 0); },
        {dir.file(files.images), "truncated: expected 36 bytes of pixel data, got 30"});
  }
}

TEST(IdxReader, TruncatedHeaderAndLabels) {
  TempDir dir;
  auto files = write_idx(dir, 4, 3, 3, false);
  write_bytes(dir.file(files.images), {0, 0, 8, 3, 0, 0}, false);
  expect_data_error([&] { load_dataset(idx_spec(dir, files), 0); },
                    {dir.file(files.images), "truncated: expected 16 bytes of header, got 6"});
  files = write_idx(dir, 4, 3, 3, false);
  write_bytes(dir.file(files.labels), idx_labels({1, 2}, 0x00000801, 4), false);
  expect_data_error([&] { load_dataset(idx_spec(dir, files), 0); },
                    {dir.file(files.labels), "truncated: expected 4 bytes of label data, got 2"});
}

TEST(IdxReader, CountMismatchNamesBothFiles) {
  TempDir dir;
  auto files = write_idx(dir, 6, 2, 2, false);
  write_bytes(dir.file(files.labels), idx_labels({1, 2, 3, 4, 5}), false);
  expect_data_error(
      [&] { load_dataset(idx_spec(dir, files), 0); },
      {dir.file(files.labels), dir.file(files.images), "holds 5 labels", "holds 6 images"});
}

TEST(IdxReader, LabelOutOfRangeNamesRecordAndValue) {
  TempDir dir;
  auto files = write_idx(dir, 5, 2, 2, false, {0, 1, 2, 12, 3});
  expect_data_error([&] { load_dataset(idx_spec(dir, files), 0); },
                    {dir.file(files.labels) + " (record 3)", "label 12 out of range [0, 10)"});
  // num_classes narrows the range.
  files = write_idx(dir, 5, 2, 2, false, {0, 1, 2, 3, 4});
  auto s = idx_spec(dir, files);
  s.num_classes = 4;
  expect_data_error([&] { load_dataset(s, 0); }, {"(record 4)", "label 4 out of range [0, 4)"});
  s.num_classes = 5;
  EXPECT_EQ(load_dataset(s, 0).num_classes, 5);
}

TEST(IdxReader, AbsurdDimensions) {
  TempDir dir;
  auto files = write_idx(dir, 4, 3, 3, false);
  write_bytes(dir.file(files.images), idx_images(200'000'000, 28, 28, {}), false);
  expect_data_error([&] { load_dataset(idx_spec(dir, files), 0); },
                    {dir.file(files.images), "implausible dimensions 200000000 x 28 x 28"});
  write_bytes(dir.file(files.images), idx_images(4, 70000, 3, {}), true);
  expect_data_error([&] { load_dataset(idx_spec(dir, files), 0); },
                    {"implausible dimensions 4 x 70000 x 3"});
}

}  // namespace
}  // namespace lossdoctor::data::test
