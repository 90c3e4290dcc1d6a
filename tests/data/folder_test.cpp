// Image folders: PNG/JPEG/BMP decoding, channels, sizes, bad images, carving a val split.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>

#include "data/data_test_util.hpp"
#include "lossdoctor/data/dataset.hpp"
#include "lossdoctor/data/image_io.hpp"

namespace lossdoctor::data::test {
namespace {

/// An RGB image whose channel c at (y, x) is base + 40 c + 3 y + x.
at::Tensor rgb(int64_t h, int64_t w, int base) {
  auto t = at::empty({3, h, w}, at::kFloat);
  auto a = t.accessor<float, 3>();
  for (int c = 0; c < 3; ++c)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) a[c][y][x] = static_cast<float>(base + 40 * c + 3 * y + x);
  return t;
}

/// root/<class>/img<i>.png with `per_class[c]` images of h×w.
void make_folder(const std::string& root, const std::vector<std::string>& classes,
                 const std::vector<int>& per_class, int64_t h, int64_t w,
                 const std::string& ext = ".png") {
  for (size_t c = 0; c < classes.size(); ++c) {
    fs::create_directories(fs::path(root) / classes[c]);
    for (int i = 0; i < per_class[c]; ++i) {
      save_image((fs::path(root) / classes[c] / ("img" + std::to_string(i) + ext)).string(),
                 rgb(h, w, static_cast<int>(10 * c + i)));
    }
  }
}

spec::DataSpec folder_spec(const std::string& root) {
  spec::DataSpec s;
  s.format = spec::DataSpec::Format::Folder;
  s.path = root;
  s.train.path = "train";
  s.train.present = true;
  return s;
}

TEST(FolderReader, ReadsPngExactlyAsRgb) {
  TempDir dir;
  make_folder(dir.file("train"), {"cat", "ant", "bee"}, {2, 3, 1}, 6, 5);
  auto ds = load_dataset(folder_spec(dir.str()), 0);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"ant", "bee", "cat"}));  // sorted
  EXPECT_EQ(ds.num_classes, 3);
  ASSERT_EQ(ds.train.images.sizes(), (std::vector<int64_t>{6, 3, 6, 5}));
  EXPECT_EQ(at::equal(ds.train.labels, at::tensor({0, 0, 0, 1, 2, 2}, at::kLong)), true);
  // ant/img1.png was written with base 10*1+1 = 11 (class index 1 at write time).
  EXPECT_TRUE(at::equal(ds.train.images[1], rgb(6, 5, 11)));
  EXPECT_TRUE(at::equal(ds.train.images[5], rgb(6, 5, 1)));  // cat/img1.png
  ASSERT_EQ(ds.train.source_paths.size(), 6u);
  EXPECT_NE(ds.train.source_paths[0].find("ant/img0.png"), std::string::npos);
}

TEST(FolderReader, ReadsJpegAndBmpGrayscale) {
  TempDir dir;
  make_folder(dir.file("train"), {"a"}, {2}, 8, 8, ".jpg");
  make_folder(dir.file("train"), {"b"}, {2}, 8, 8, ".bmp");
  auto s = folder_spec(dir.str());
  s.channels = 1;
  auto ds = load_dataset(s, 0);
  ASSERT_EQ(ds.train.images.sizes(), (std::vector<int64_t>{4, 1, 8, 8}));
  // Gray = 0.299 R + 0.587 G + 0.114 B with G = R + 40, B = R + 80: about R + 32.6.
  const float bmp_gray = ds.train.images[2][0][2][3].item<float>();
  EXPECT_NEAR(bmp_gray, 0 + 6 + 3 + 32.6, 1.0);
  const float jpg_gray = ds.train.images[0][0][4][4].item<float>();
  EXPECT_NEAR(jpg_gray, 12 + 4 + 32.6, 6.0);  // lossy
  EXPECT_GE(ds.train.images.min().item<float>(), 0.0f);
  EXPECT_LE(ds.train.images.max().item<float>(), 255.0f);
}

TEST(FolderReader, DifferentSizesFailWithoutImageSize) {
  TempDir dir;
  make_folder(dir.file("train"), {"a"}, {2}, 6, 6);
  make_folder(dir.file("train"), {"b"}, {1}, 7, 5);
  expect_data_error([&] { load_dataset(folder_spec(dir.str()), 0); },
                    {dir.file("train/b/img0.png"), "image is 7x5 (height x width)",
                     dir.file("train/a/img0.png") + " is 6x6", "data.image_size"});
  auto s = folder_spec(dir.str());
  s.image_size = std::make_pair<int64_t, int64_t>(4, 3);
  auto ds = load_dataset(s, 0);
  EXPECT_EQ(ds.train.images.sizes(), (std::vector<int64_t>{3, 3, 4, 3}));
}

TEST(FolderReader, UndecodableImageFailsOrIsSkipped) {
  TempDir dir;
  make_folder(dir.file("train"), {"a", "b"}, {2, 2}, 4, 4);
  const std::string bad = dir.file("train/a/broken.png");
  std::ofstream(bad) << "this is not a png";
  expect_data_error([&] { load_dataset(folder_spec(dir.str()), 0); },
                    {bad, "cannot decode image", "skip_bad_images"});
  auto s = folder_spec(dir.str());
  s.skip_bad_images = true;
  std::vector<std::string> warnings;
  auto ds = load_dataset(s, 0, [&](const std::string& w) { warnings.push_back(w); });
  EXPECT_EQ(ds.train.size(), 4);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find(bad), std::string::npos);
  // source_index counts the listing, skipped file included: a/broken.png is listed first.
  EXPECT_EQ(ds.train.source_index, (std::vector<int64_t>{1, 2, 3, 4}));
}

TEST(FolderReader, EmptyClassFolderAndMissingRoot) {
  TempDir dir;
  make_folder(dir.file("train"), {"a"}, {2}, 4, 4);
  fs::create_directories(dir.file("train/empty"));
  expect_data_error([&] { load_dataset(folder_spec(dir.str()), 0); },
                    {dir.file("train/empty"), "empty class folder"});
  auto s = folder_spec(dir.str());
  s.train.path = "missing";
  expect_data_error([&] { load_dataset(s, 0); }, {dir.file("missing"), "folder not found"});
}

TEST(FolderReader, ValFolderUsesTrainClassIds) {
  TempDir dir;
  make_folder(dir.file("train"), {"a", "b", "c"}, {2, 2, 2}, 4, 4);
  make_folder(dir.file("val"), {"c"}, {2}, 4, 4);
  auto s = folder_spec(dir.str());
  s.val.path = "val";
  s.val.present = true;
  auto ds = load_dataset(s, 0);
  EXPECT_TRUE(at::equal(ds.val.labels, at::tensor({2, 2}, at::kLong)));
  make_folder(dir.file("val"), {"zebra"}, {1}, 4, 4);
  expect_data_error([&] { load_dataset(s, 0); },
                    {dir.file("val/zebra"), "not among the training classes"});
}

TEST(FolderReader, SplitCarvesStratifiedSeededValidation) {
  TempDir dir;
  make_folder(dir.file("train"), {"a", "b"}, {10, 20}, 3, 3);
  auto s = folder_spec(dir.str());
  s.split = 0.2;
  auto ds = load_dataset(s, 7);
  ASSERT_EQ(ds.val.size(), 6);
  ASSERT_EQ(ds.train.size(), 24);
  EXPECT_EQ(ds.val.labels.eq(0).sum().item<int64_t>(), 2);
  EXPECT_EQ(ds.val.labels.eq(1).sum().item<int64_t>(), 4);
  // Disjoint and complete.
  std::vector<int64_t> all = ds.train.source_index;
  all.insert(all.end(), ds.val.source_index.begin(), ds.val.source_index.end());
  std::sort(all.begin(), all.end());
  for (int64_t i = 0; i < 30; ++i) EXPECT_EQ(all[i], i);
  auto again = load_dataset(s, 7);
  EXPECT_EQ(again.val.source_index, ds.val.source_index);
  auto other = load_dataset(s, 8);
  EXPECT_NE(other.val.source_index, ds.val.source_index);
}

// A 51-byte BMP header that makes OpenCV throw cv::Exception from imread (found by
// fuzz/folder_fuzz): a DataError naming the file, never an uncaught exception.
TEST(FolderReader, AHeaderOpenCvThrowsOnIsADataErrorNamingTheFile) {
  TempDir dir;
  make_folder(dir.file("train"), {"a", "b"}, {0, 2}, 4, 4);
  const std::vector<uint8_t> bytes = {
      0x42, 0x4d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x28, 0x00, 0x00, 0x00, 0x01, 0x00, 0x42, 0x25, 0x66, 0x00, 0x00, 0x00,
      0x01, 0x28, 0x18, 0x00, 0x00, 0x00, 0x00, 0x00, 0x85, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x0a, 0x0a, 0xfe, 0xff, 0x3c, 0x96, 0x5a, 0x5a, 0x96, 0x5a};
  fs::create_directories(fs::path(dir.file("train")) / "a");
  write_bytes(dir.file("train/a/x.bmp"), bytes, false);
  expect_data_error([&] { load_dataset(folder_spec(dir.str()), 0); }, {"x.bmp"});
}

// Content that is not JPEG, PNG or BMP never reaches OpenCV, whose GDCM fallback aborted the
// process on this file (found by fuzz/folder_fuzz).
TEST(FolderReader, OnlyJpegPngAndBmpContentReachesTheDecoder) {
  TempDir dir;
  make_folder(dir.file("train"), {"a", "b"}, {2, 2}, 4, 4);
  // The found bytes and a final NUL: sizeof counts the literal's terminator (29 bytes; 30 read
  // one byte past the literal, which ASan reports).
  static const char kFound[] =
      "\x02"
      "BMf\0\0\0\0\0\0\0\0.ACE2.gz6\0\0\0(\0\0\0";
  std::ofstream(dir.file("train/a/x.jpg"), std::ios::binary) << std::string(kFound, sizeof kFound);
  expect_data_error([&] { load_dataset(folder_spec(dir.str()), 0); },
                    {"x.jpg", "not a JPEG, PNG or BMP file (it starts with 02 42 4d 66)"});
  std::ofstream(dir.file("train/a/x.jpg"), std::ios::trunc);
  expect_data_error([&] { load_dataset(folder_spec(dir.str()), 0); }, {"x.jpg", "empty"});
}

}  // namespace
}  // namespace lossdoctor::data::test
