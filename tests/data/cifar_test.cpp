// CIFAR-10 binary batches.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "data/data_test_util.hpp"
#include "lossdoctor/data/dataset.hpp"

namespace lossdoctor::data::test {
namespace {

/// `n` records: label (first + i) % 10, pixel (c, y, x) = (i + c * 50 + y + x) % 256.
std::vector<uint8_t> cifar_records(int64_t n, int first = 0) {
  std::vector<uint8_t> v;
  for (int64_t i = 0; i < n; ++i) {
    v.push_back(static_cast<uint8_t>((first + i) % 10));
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) v.push_back(static_cast<uint8_t>((i + c * 50 + y + x) % 256));
  }
  return v;
}

spec::DataSpec cifar_spec(const TempDir& dir, std::vector<std::string> files) {
  spec::DataSpec s;
  s.format = spec::DataSpec::Format::Cifar10;
  s.path = dir.str();
  s.train.files = std::move(files);
  s.train.present = true;
  return s;
}

TEST(Cifar10Reader, ReadsAndConcatenatesBatches) {
  TempDir dir;
  write_bytes(dir.file("data_batch_1.bin"), cifar_records(7), false);
  write_bytes(dir.file("data_batch_2.bin"), cifar_records(5, 3), false);
  auto ds = load_dataset(cifar_spec(dir, {"data_batch_1.bin", "data_batch_2.bin"}), 0);
  ASSERT_EQ(ds.train.images.sizes(), (std::vector<int64_t>{12, 3, 32, 32}));
  auto img = ds.train.images.accessor<float, 4>();
  auto lab = ds.train.labels.accessor<int64_t, 1>();
  EXPECT_EQ(lab[0], 0);
  EXPECT_EQ(lab[6], 6);
  EXPECT_EQ(lab[7], 3);  // second file, first record
  EXPECT_EQ(lab[11], 7);
  EXPECT_EQ(img[2][1][3][4], (2 + 50 + 3 + 4) % 256);  // channel-major (CHW) layout
  EXPECT_EQ(img[9][2][31][0], (2 + 100 + 31) % 256);   // record 2 of the second file
  EXPECT_EQ(ds.num_classes, 10);
}

TEST(Cifar10Reader, ValFromOtherFileAndAbsolutePath) {
  TempDir dir;
  write_bytes(dir.file("a.bin"), cifar_records(4), false);
  write_bytes(dir.file("test_batch.bin"), cifar_records(3), true);  // gzip works too
  auto s = cifar_spec(dir, {"a.bin"});
  s.val.files = {dir.file("test_batch.bin")};
  s.val.present = true;
  auto ds = load_dataset(s, 0);
  EXPECT_EQ(ds.val.size(), 3);
  EXPECT_EQ(ds.val.images[2][0][0][0].item<float>(), 2.0f);
}

TEST(Cifar10Reader, TruncatedFile) {
  TempDir dir;
  auto bytes = cifar_records(3);
  bytes.resize(bytes.size() - 100);
  write_bytes(dir.file("b.bin"), bytes, false);
  expect_data_error([&] { load_dataset(cifar_spec(dir, {"b.bin"}), 0); },
                    {dir.file("b.bin"), "truncated: 9119 bytes is not a multiple of the 3073-byte",
                     "the last record has 2973 bytes"});
}

TEST(Cifar10Reader, LabelOutOfRange) {
  TempDir dir;
  auto bytes = cifar_records(3);
  bytes[2 * 3073] = 11;
  write_bytes(dir.file("b.bin"), bytes, false);
  expect_data_error([&] { load_dataset(cifar_spec(dir, {"b.bin"}), 0); },
                    {dir.file("b.bin") + " (record 2)", "label 11 out of range [0, 10)"});
}

TEST(Cifar10Reader, MissingAndEmptyFiles) {
  TempDir dir;
  expect_data_error([&] { load_dataset(cifar_spec(dir, {"none.bin"}), 0); },
                    {dir.file("none.bin"), "file not found"});
  write_bytes(dir.file("empty.bin"), {}, false);
  expect_data_error([&] { load_dataset(cifar_spec(dir, {"empty.bin"}), 0); },
                    {dir.file("empty.bin"), "empty file"});
}

}  // namespace
}  // namespace lossdoctor::data::test
